"""Concurrent holds against the real moto server: no seat is ever granted twice.

One race helper and one checker serve both the real adapter and a deliberately unguarded
variant; the unguarded run must be caught, which proves the checker can fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters.fakes.seat_locks import InMemorySeatLocks
from adapters.seat_locks import DynamoSeatLocks, lock_item, lock_key
from domain.model import AcquireResult, SeatLock
from domain.ports import SeatLocks

TTL = 300
SEATS = tuple(f"s{i:02d}" for i in range(12))


class UnguardedSeatLocks(DynamoSeatLocks):
    """Test-only broken adapter: its puts have no condition, so every caller "wins"."""

    def _lock_put(self, lock: SeatLock, now: int) -> dict[str, Any]:
        return {"TableName": self._table, "Item": lock_item(lock)}


@dataclass(frozen=True)
class Outcome:
    lock_id: str
    seats: tuple[str, ...]
    result: AcquireResult


Holds = Sequence[tuple[str, tuple[str, ...]]]
Reader = Callable[[str, Sequence[str]], dict[str, str]]


def race(locks: SeatLocks, event_id: str, holds: Holds) -> list[Outcome]:
    """Every hold attempted at once: a barrier releases all threads together."""
    barrier = threading.Barrier(len(holds), timeout=60)

    def attempt(lock_id: str, seats: tuple[str, ...]) -> Outcome:
        barrier.wait()
        result = locks.acquire(event_id, seats, lock_id, f"user-{lock_id}", TTL)
        return Outcome(lock_id, seats, result)

    with ThreadPoolExecutor(max_workers=len(holds)) as pool:
        futures = [pool.submit(attempt, lock_id, seats) for lock_id, seats in holds]
        return [f.result() for f in futures]


def violations(outcomes: Sequence[Outcome], table: dict[str, str]) -> list[str]:
    """Everything that breaks the hold contract, given the race's results and the table after.

    ``table`` maps seat -> lock_id as stored once the race is over.
    """
    problems: list[str] = []
    winners = [o for o in outcomes if o.result.acquired]
    losers = [o for o in outcomes if not o.result.acquired]
    granted: dict[str, list[str]] = {}
    for w in winners:
        for seat in w.seats:
            granted.setdefault(seat, []).append(w.lock_id)
            if table.get(seat) != w.lock_id:
                problems.append(
                    f"{w.lock_id} was granted {seat} but the table says {table.get(seat)}"
                )
    problems += [f"double hold: {s} granted to {who}" for s, who in granted.items() if len(who) > 1]
    loser_ids = {o.lock_id for o in losers}
    problems += [f"partial hold: loser {lk} kept {s}" for s, lk in table.items() if lk in loser_ids]
    for loser in losers:
        taken = set(loser.result.taken)
        # A hold is one transaction, so a loser never holds anything, even briefly: only the
        # winners can have been holding a seat that refused a loser. (On real DynamoDB a seat
        # that conflicted twice with another transaction is refused too; moto never conflicts.)
        if not taken:
            problems.append(f"{loser.lock_id} lost without being told which seats were taken")
        if not taken <= set(loser.seats) & set(granted):
            problems.append(f"{loser.lock_id} told {sorted(taken)} were taken; nobody held them")
    return problems


class OneCallAtATime:
    """The moto client with its calls made one at a time across threads.

    moto_server does not isolate ``TransactWriteItems``: it checks and writes the items one by
    one while other requests interleave (two holds can both pass the same seat's condition),
    and a cancelled transaction puts back a copy of the whole table taken when it began,
    erasing what other clients wrote meanwhile. Real DynamoDB runs transactions serializably;
    one call at a time is that guarantee, and the threads still interleave between calls.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._mutex = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._mutex:
                return attr(*args, **kwargs)

        return call


def dynamo_reader(dynamodb: Any, table: str) -> Reader:
    """Reads the lock table directly (strongly consistent), not through the adapter."""

    def read(event_id: str, seats: Sequence[str]) -> dict[str, str]:
        keys = [{"pk": {"S": lock_key(event_id, s)}} for s in seats]
        response = dynamodb.batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}}
        )
        assert not response.get("UnprocessedKeys")
        return {i["seat_id"]["S"]: i["lock_id"]["S"] for i in response["Responses"][table]}

    return read


def random_holds(seed: int, holders: int = 20) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    return [(f"L{i:02d}", tuple(rng.sample(SEATS, rng.randint(2, 4)))) for i in range(holders)]


@pytest.fixture
def real(dynamodb: Any, settings: Any) -> tuple[DynamoSeatLocks, Reader]:
    return DynamoSeatLocks(OneCallAtATime(dynamodb), settings.seat_lock_table), dynamo_reader(
        dynamodb, settings.seat_lock_table
    )


@pytest.fixture
def unguarded(dynamodb: Any, settings: Any) -> tuple[DynamoSeatLocks, Reader]:
    return UnguardedSeatLocks(OneCallAtATime(dynamodb), settings.seat_lock_table), dynamo_reader(
        dynamodb, settings.seat_lock_table
    )


def single_seat_race(locks: SeatLocks, read: Reader) -> tuple[list[Outcome], list[str]]:
    event_id = f"ev-{uuid.uuid4()}"
    outcomes = race(locks, event_id, [(f"L{i:02d}", ("s00",)) for i in range(50)])
    return outcomes, violations(outcomes, read(event_id, ["s00"]))


def multi_seat_race(locks: SeatLocks, read: Reader, seed: int) -> tuple[list[Outcome], list[str]]:
    event_id = f"ev-{uuid.uuid4()}"
    outcomes = race(locks, event_id, random_holds(seed))
    return outcomes, violations(outcomes, read(event_id, SEATS))


def test_fifty_acquirers_of_one_seat_exactly_one_wins(
    real: tuple[DynamoSeatLocks, Reader],
) -> None:
    outcomes, problems = single_seat_race(*real)
    assert problems == []
    assert sum(o.result.acquired for o in outcomes) == 1
    assert all(o.result.taken == ("s00",) for o in outcomes if not o.result.acquired)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overlapping_multi_seat_holds_never_share_a_seat(
    real: tuple[DynamoSeatLocks, Reader], seed: int
) -> None:
    outcomes, problems = multi_seat_race(*real, seed)
    assert problems == []
    assert any(o.result.acquired for o in outcomes)
    assert any(not o.result.acquired for o in outcomes)  # the holds really did collide


def test_fake_is_thread_safe_under_the_same_race() -> None:
    fake = InMemorySeatLocks()

    def read(event_id: str, seats: Sequence[str]) -> dict[str, str]:
        return {lk.seat_id: lk.lock_id for lk in fake.live_locks(event_id) if lk.seat_id in seats}

    for seed in (1, 2, 3):
        assert multi_seat_race(fake, read, seed)[1] == []
    assert single_seat_race(fake, read)[1] == []


# --- negative control: the same race and checker catch an adapter without the guard ---------


def test_checker_detects_double_hold_of_one_seat_without_the_guard(
    unguarded: tuple[DynamoSeatLocks, Reader],
) -> None:
    outcomes, problems = single_seat_race(*unguarded)
    assert sum(o.result.acquired for o in outcomes) > 1
    assert any(p.startswith("double hold: s00") for p in problems)


def test_checker_detects_shared_seats_without_the_guard(
    unguarded: tuple[DynamoSeatLocks, Reader],
) -> None:
    holds = random_holds(1)
    assert len({s for _, seats in holds for s in seats}) < sum(len(s) for _, s in holds)
    _, problems = multi_seat_race(*unguarded, 1)
    assert any(p.startswith("double hold") for p in problems)


# --- what DynamoDB answers and moto never does (conflicts), and the calls each step makes ------


class Scripted:
    """The moto client, counting its calls by name. While ``conflicts`` is above zero, each
    transaction is cancelled the way DynamoDB cancels one that meets another transaction on
    ``pk``: ``TransactionConflict`` for that item, ``None`` for the others."""

    def __init__(self, client: Any, pk: str) -> None:
        self._client = client
        self._pk = pk
        self.conflicts = 0
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name == "transact_write_items" and self.conflicts > 0:
                self.conflicts -= 1
                raise self._conflict(kwargs["TransactItems"])
            return attr(*args, **kwargs)

        return call

    def _conflict(self, items: list[dict[str, Any]]) -> ClientError:
        def pk(item: dict[str, Any]) -> str:
            (op,) = item.values()
            return str((op.get("Item") or op["Key"])["pk"]["S"])

        reasons = [
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
            if pk(item) == self._pk
            else {"Code": "None"}
            for item in items
        ]
        codes = ", ".join(r["Code"] for r in reasons)
        error = {
            "Error": {
                "Code": "TransactionCanceledException",
                "Message": f"Transaction cancelled, please refer cancellation reasons "
                f"for specific reasons [{codes}]",
            },
            "CancellationReasons": reasons,
        }
        return ClientError(error, "TransactWriteItems")


T0 = 1_900_000_000
SIX = ["s1", "s2", "s3", "s4", "s5", "s6"]


@pytest.fixture
def scripted(dynamodb: Any, settings: Any) -> tuple[DynamoSeatLocks, Scripted, str]:
    """(locks, their client, event): conflicts, when scripted, are on the event's seat s2."""
    event_id = f"ev-{uuid.uuid4()}"
    client = Scripted(dynamodb, lock_key(event_id, "s2"))
    return DynamoSeatLocks(client, settings.seat_lock_table), client, event_id


def test_a_checkout_is_one_call_to_hold_one_to_extend_and_one_to_release(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, SIX, "A", "alice", 60, now=T0).acquired
    assert locks.acquire(event_id, SIX, "A", "alice", 60, now=T0 + 1).acquired  # re-entrant
    assert locks.extend(event_id, SIX, "A", 60, now=T0 + 2) == T0 + 62
    assert locks.release(event_id, SIX, "A") == 6
    assert client.calls == {"transact_write_items": 4}


def test_a_refused_hold_is_one_transaction_and_one_read(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, ["s2", "s5"], "A", "alice", 60, now=T0).acquired
    refused = locks.acquire(event_id, SIX, "B", "bob", 60, now=T0)
    assert not refused.acquired and refused.taken == ("s2", "s5")
    assert client.calls == {"transact_write_items": 2, "batch_get_item": 1}


def test_a_conflict_is_retried_once(scripted: tuple[DynamoSeatLocks, Scripted, str]) -> None:
    locks, client, event_id = scripted
    client.conflicts = 1
    result = locks.acquire(event_id, ["s1", "s2", "s3"], "A", "alice", 60, now=T0)
    assert result.acquired and result.expires_at == T0 + 60
    assert client.calls == {"transact_write_items": 2}
    locks.validate(event_id, ["s1", "s2", "s3"], "A", now=T0)


def test_a_second_conflict_refuses_that_seat_and_holds_nothing(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, ["s1"], "A", "alice", 60, now=T0).acquired
    client.conflicts = 2
    result = locks.acquire(event_id, ["s1", "s2", "s3"], "A", "alice", 300, now=T0 + 10)
    assert not result.acquired and result.taken == ("s2",)
    # As it found it: s1 still A's with its old expiry, s2 and s3 free.
    assert [(lk.seat_id, lk.expires_at) for lk in locks.live_locks(event_id, now=T0 + 10)] == [
        ("s1", T0 + 60)
    ]


def test_a_conflicted_release_releases_the_rest_seat_by_seat(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, ["s1", "s2", "s3"], "A", "alice", 60, now=T0).acquired
    client.conflicts = 1
    assert locks.release(event_id, ["s1", "s2", "s3"], "A") == 3
    assert locks.live_locks(event_id, now=T0) == []
    assert client.calls == {"transact_write_items": 2, "delete_item": 3, "query": 1}


def test_a_release_after_a_takeover_retries_only_the_seats_still_ours(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, ["s1", "s2", "s3"], "A", "alice", 10, now=T0).acquired
    assert locks.acquire(event_id, ["s2"], "B", "bob", 60, now=T0 + 11).acquired
    assert locks.release(event_id, ["s1", "s2", "s3"], "A") == 2
    assert {lk.seat_id: lk.lock_id for lk in locks.live_locks(event_id, now=T0 + 11)} == {"s2": "B"}
    # Nothing is ours any more: a repeated release is its one transaction.
    assert locks.release(event_id, ["s1", "s2", "s3"], "A") == 0
    assert client.calls == {
        "transact_write_items": 4,
        "delete_item": 2,
        "query": 1,
    }


def test_extend_retries_a_conflict_once_then_gives_up(
    scripted: tuple[DynamoSeatLocks, Scripted, str],
) -> None:
    locks, client, event_id = scripted
    assert locks.acquire(event_id, ["s1", "s2"], "A", "alice", 60, now=T0).acquired
    client.conflicts = 1
    assert locks.extend(event_id, ["s1", "s2"], "A", 60, now=T0 + 10) == T0 + 70
    client.conflicts = 2
    with pytest.raises(ClientError) as info:
        locks.extend(event_id, ["s1", "s2"], "A", 300, now=T0 + 20)
    assert info.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [lk.expires_at for lk in locks.live_locks(event_id, now=T0 + 20)] == [T0 + 70] * 2
