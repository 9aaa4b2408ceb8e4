"""One contract, two implementations: the DynamoDB adapter (against moto_server) and the fake.

Every test names its own event (fresh uuid) and passes ``now`` explicitly, so the runs isolate
themselves and time never depends on the wall clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.fakes.seat_locks import InMemorySeatLocks
from adapters.seat_locks import DynamoSeatLocks
from domain.errors import DomainError, ErrorCode
from domain.model import SeatLock
from domain.ports import SeatLocks

T0 = 1_900_000_000  # an arbitrary "now", epoch seconds
TTL = 300


@pytest.fixture(params=["memory", "dynamo"])
def locks(request: pytest.FixtureRequest) -> Iterator[SeatLocks]:
    if request.param == "memory":
        yield InMemorySeatLocks()
    else:
        dynamodb: Any = request.getfixturevalue("dynamodb")
        settings: Any = request.getfixturevalue("settings")
        yield DynamoSeatLocks(dynamodb, settings.seat_lock_table)


@pytest.fixture
def event() -> str:
    return f"ev-{uuid.uuid4()}"


def held(locks: SeatLocks, event: str, now: int = T0) -> dict[str, str]:
    """seat -> lock_id of every live lock of the event."""
    return {lk.seat_id: lk.lock_id for lk in locks.live_locks(event, now=now)}


def error_of(call: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        call()
    return info.value


def test_acquire_then_refuse_reports_exactly_the_taken_seats(locks: SeatLocks, event: str) -> None:
    first = locks.acquire(event, ["s3", "s1", "s2"], "A", "alice", TTL, now=T0)
    assert first.acquired and first.taken == () and first.expires_at == T0 + TTL

    second = locks.acquire(event, ["s4", "s2", "s0", "s3"], "B", "bob", TTL, now=T0 + 1)
    assert not second.acquired
    assert second.taken == ("s2", "s3")
    assert held(locks, event, T0 + 1) == {"s1": "A", "s2": "A", "s3": "A"}


def test_refused_hold_leaves_no_partial_hold(locks: SeatLocks, event: str) -> None:
    # B's sorted order takes a0 and a1 before it meets z9: those must be given back.
    assert locks.acquire(event, ["z9"], "A", "alice", TTL, now=T0).acquired
    result = locks.acquire(event, ["a1", "z9", "a0"], "B", "bob", TTL, now=T0)
    assert not result.acquired and result.taken == ("z9",)
    assert held(locks, event) == {"z9": "A"}
    assert locks.acquire(event, ["a0", "a1"], "C", "carol", TTL, now=T0).acquired


def test_reentrant_acquire_refreshes_expiry(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 60, now=T0).acquired
    again = locks.acquire(event, ["s1", "s2"], "A", "alice", 60, now=T0 + 50)
    assert again.acquired and again.expires_at == T0 + 110
    expiries = {lk.seat_id: lk.expires_at for lk in locks.live_locks(event, now=T0 + 50)}
    assert expiries == {"s1": T0 + 110, "s2": T0 + 110}
    # Still held after the first expiry would have passed.
    locks.validate(event, ["s1", "s2"], "A", now=T0 + 100)


def test_refused_reentrant_acquire_keeps_the_earlier_hold(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 60, now=T0).acquired
    assert locks.acquire(event, ["s3"], "B", "bob", TTL, now=T0).acquired
    # A tries to grow its hold with s2 and s3; s3 is B's, so nothing changes for A.
    result = locks.acquire(event, ["s1", "s2", "s3"], "A", "alice", TTL, now=T0 + 10)
    assert not result.acquired and result.taken == ("s3",)
    assert held(locks, event, T0 + 10) == {"s1": "A", "s3": "B"}
    (s1,) = [lk for lk in locks.live_locks(event, now=T0 + 10) if lk.seat_id == "s1"]
    assert s1.expires_at == T0 + 60  # the failed call did not refresh it either


def test_expired_lock_is_taken_over(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 60, now=T0).acquired
    # At the expiry second the lock is still live; one second later it is free.
    assert locks.acquire(event, ["s1"], "B", "bob", 60, now=T0 + 60).taken == ("s1",)
    took = locks.acquire(event, ["s1"], "B", "bob", 60, now=T0 + 61)
    assert took.acquired and took.expires_at == T0 + 121
    assert held(locks, event, T0 + 61) == {"s1": "B"}
    assert error_of(lambda: locks.validate(event, ["s1"], "A", now=T0 + 61)).code == (
        ErrorCode.LOCK_INVALID
    )


def test_release_only_deletes_own_locks_and_is_idempotent(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", TTL, now=T0).acquired
    assert locks.acquire(event, ["s3"], "B", "bob", TTL, now=T0).acquired
    assert locks.release(event, ["s1", "s2", "s3"], "B") == 1
    assert held(locks, event) == {"s1": "A", "s2": "A"}
    assert locks.release(event, ["s1", "s2"], "A") == 2
    assert locks.release(event, ["s1", "s2"], "A") == 0
    assert locks.release(event, [], "A") == 0
    assert held(locks, event) == {}


def test_release_also_clears_own_expired_lock(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 10, now=T0).acquired
    assert locks.release(event, ["s1"], "A") == 1
    assert locks.acquire(event, ["s1"], "B", "bob", 10, now=T0).acquired


def test_extend(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 60, now=T0).acquired
    assert locks.extend(event, ["s2", "s1"], "A", 120, now=T0 + 30) == T0 + 150
    locks.validate(event, ["s1", "s2"], "A", now=T0 + 150)
    assert error_of(lambda: locks.validate(event, ["s1"], "A", now=T0 + 151)).code == (
        ErrorCode.LOCK_EXPIRED
    )
    (lock,) = [lk for lk in locks.live_locks(event, now=T0) if lk.seat_id == "s1"]
    assert (lock.user_id, lock.created_at) == ("alice", T0)


def test_extend_of_someone_elses_lock_is_refused(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 60, now=T0).acquired
    err = error_of(lambda: locks.extend(event, ["s1"], "B", 60, now=T0 + 1))
    assert err.code == ErrorCode.LOCK_INVALID and err.details["seat_ids"] == ["s1"]
    err = error_of(lambda: locks.extend(event, ["s9"], "A", 60, now=T0 + 1))
    assert err.code == ErrorCode.LOCK_INVALID and err.details["seat_ids"] == ["s9"]
    assert [lk.expires_at for lk in locks.live_locks(event, now=T0)] == [T0 + 60]


def test_extend_of_expired_lock_is_lock_expired(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 60, now=T0).acquired
    err = error_of(lambda: locks.extend(event, ["s1", "s2"], "A", 60, now=T0 + 61))
    assert err.code == ErrorCode.LOCK_EXPIRED
    assert err.details["seat_ids"] == ["s1", "s2"]
    assert held(locks, event, T0 + 61) == {}


def test_extend_after_takeover_is_lock_invalid(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 60, now=T0).acquired
    assert locks.acquire(event, ["s2"], "B", "bob", 60, now=T0 + 61).acquired
    err = error_of(lambda: locks.extend(event, ["s1", "s2"], "A", 60, now=T0 + 61))
    assert err.code == ErrorCode.LOCK_INVALID
    assert err.details["invalid_seat_ids"] == ["s2"]
    assert err.details["expired_seat_ids"] == ["s1"]


def test_validate(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 60, now=T0).acquired
    locks.validate(event, ["s2", "s1"], "A", now=T0 + 60)
    locks.validate(event, ["s1"], "A", now=T0)
    err = error_of(lambda: locks.validate(event, ["s1", "s2", "s3"], "A", now=T0))
    assert err.code == ErrorCode.LOCK_INVALID and err.details["seat_ids"] == ["s3"]
    err = error_of(lambda: locks.validate(event, ["s1"], "B", now=T0))
    assert err.code == ErrorCode.LOCK_INVALID and err.details["seat_ids"] == ["s1"]
    err = error_of(lambda: locks.validate(event, ["s1", "s2"], "A", now=T0 + 61))
    assert err.code == ErrorCode.LOCK_EXPIRED and err.details["seat_ids"] == ["s1", "s2"]


def test_default_clock_is_used_when_now_is_omitted(locks: SeatLocks, event: str) -> None:
    result = locks.acquire(event, ["s1"], "A", "alice", TTL)
    assert result.acquired
    locks.validate(event, ["s1"], "A")
    assert [lk.seat_id for lk in locks.live_locks(event)] == ["s1"]
    # Held for TTL seconds from the real clock: a lock dated T0 (2030) would still be live.
    assert result.expires_at < T0


def test_live_locks_excludes_expired_and_other_events(locks: SeatLocks, event: str) -> None:
    other = f"ev-{uuid.uuid4()}"
    assert locks.acquire(event, ["s1"], "A", "alice", 100, now=T0).acquired
    assert locks.acquire(event, ["s2"], "B", "bob", 10, now=T0).acquired
    assert locks.acquire(other, ["s1", "s3"], "C", "carol", 100, now=T0).acquired
    assert locks.live_locks(event, now=T0 + 11) == [
        SeatLock(event, "s1", "alice", "A", T0 + 100, T0)
    ]
    assert [lk.seat_id for lk in locks.live_locks(event, now=T0)] == ["s1", "s2"]
    assert [lk.seat_id for lk in locks.live_locks(other, now=T0)] == ["s1", "s3"]
    assert locks.live_locks(f"ev-{uuid.uuid4()}", now=T0) == []


def test_held_seat_ids_are_the_live_locks_seats(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 100, now=T0).acquired
    assert locks.acquire(event, ["s2", "s3"], "B", "bob", 10, now=T0).acquired
    assert locks.acquire(f"ev-{uuid.uuid4()}", ["s4"], "C", "carol", 100, now=T0).acquired
    assert locks.held_seat_ids(event, now=T0) == {"s1", "s2", "s3"}
    assert locks.held_seat_ids(event, now=T0 + 11) == {"s1"}
    assert locks.release(event, ["s1"], "A") == 1
    assert locks.held_seat_ids(event, now=T0 + 11) == set()


def test_acquire_reports_which_seats_it_newly_locked(locks: SeatLocks, event: str) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", 100, now=T0).fresh == ("s1",)
    assert locks.acquire(event, ["s2"], "A", "alice", 10, now=T0).fresh == ("s2",)
    # s1 is still ours (re-entrant), s2 has lapsed and s3 was free: both are fresh
    again = locks.acquire(event, ["s1", "s2", "s3"], "A", "alice", 100, now=T0 + 11)
    assert again.acquired and again.fresh == ("s2", "s3")


def test_same_seat_id_in_two_events_does_not_collide(locks: SeatLocks, event: str) -> None:
    other = f"ev-{uuid.uuid4()}"
    assert locks.acquire(event, ["s1"], "A", "alice", TTL, now=T0).acquired
    assert locks.acquire(other, ["s1"], "B", "bob", TTL, now=T0).acquired


@pytest.mark.parametrize(
    ("seats", "kwargs", "code"),
    [
        ([], {}, ErrorCode.INVALID_INPUT),
        (["s1", "s2", "s1"], {}, ErrorCode.DUPLICATE_SEATS),
        (["s1", ""], {}, ErrorCode.INVALID_INPUT),
        ("s1", {}, ErrorCode.INVALID_INPUT),
        (["s1"], {"ttl_seconds": 0}, ErrorCode.INVALID_INPUT),
        (["s1"], {"lock_id": ""}, ErrorCode.INVALID_INPUT),
        (["s1"], {"user_id": ""}, ErrorCode.INVALID_INPUT),
        (["s1"], {"event_id": "a#b"}, ErrorCode.INVALID_INPUT),
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(
    locks: SeatLocks, event: str, seats: Any, kwargs: dict[str, Any], code: ErrorCode
) -> None:
    assert locks.acquire(event, ["s1"], "A", "alice", TTL, now=T0).acquired
    call: dict[str, Any] = {
        "event_id": event,
        "seat_ids": seats,
        "lock_id": "B",
        "user_id": "bob",
        "ttl_seconds": TTL,
        "now": T0,
    }
    call.update(kwargs)
    assert error_of(lambda: locks.acquire(**call)).code == code
    assert error_of(lambda: locks.extend(**{k: v for k, v in call.items() if k != "user_id"}))
    assert held(locks, event) == {"s1": "A"}
    (lock,) = locks.live_locks(event, now=T0)
    assert lock.expires_at == T0 + TTL


def test_duplicate_seats_report_which(locks: SeatLocks, event: str) -> None:
    err = error_of(lambda: locks.acquire(event, ["s2", "s1", "s2"], "A", "a", TTL, now=T0))
    assert err.code == ErrorCode.DUPLICATE_SEATS and err.details["seat_ids"] == ["s2"]
    err = error_of(lambda: locks.release(event, ["s1", "s1"], "A"))
    assert err.code == ErrorCode.DUPLICATE_SEATS
    assert held(locks, event) == {}
