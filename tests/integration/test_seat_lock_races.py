"""Concurrent holds against the real moto server: no seat is ever granted twice.

One race helper and one checker serve both the real adapter and a deliberately unguarded
variant; the unguarded run must be caught, which proves the checker can fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.fakes.seat_locks import InMemorySeatLocks
from adapters.seat_locks import DynamoSeatLocks, Item, lock_item, lock_key
from domain.model import AcquireResult, SeatLock
from domain.ports import SeatLocks

TTL = 300
SEATS = tuple(f"s{i:02d}" for i in range(12))


class UnguardedSeatLocks(DynamoSeatLocks):
    """Test-only broken adapter: its put has no condition, so every caller "wins"."""

    def _put_lock(self, lock: SeatLock, now: int) -> tuple[bool, Item | None]:
        response = self._client.put_item(
            TableName=self._table,
            Item=lock_item(lock),
            ReturnValues="ALL_OLD",
        )
        return True, response.get("Attributes") or None


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
        # A loser can be refused by another loser's brief partial hold (a strict prefix of that
        # loser's sorted seats, rolled back since): that seat was really taken when refused.
        could_hold = set(granted).union(*(sorted(o.seats)[:-1] for o in losers if o is not loser))
        if not taken:
            problems.append(f"{loser.lock_id} lost without being told which seats were taken")
        if not taken <= set(loser.seats) & could_hold:
            problems.append(f"{loser.lock_id} told {sorted(taken)} were taken; nobody held them")
    return problems


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
    return DynamoSeatLocks(dynamodb, settings.seat_lock_table), dynamo_reader(
        dynamodb, settings.seat_lock_table
    )


@pytest.fixture
def unguarded(dynamodb: Any, settings: Any) -> tuple[DynamoSeatLocks, Reader]:
    return UnguardedSeatLocks(dynamodb, settings.seat_lock_table), dynamo_reader(
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
