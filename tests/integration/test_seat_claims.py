"""Seat claims on the run's Redis: the API's fast gate, and the side that follows DynamoDB."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from adapters.claimed_seat_locks import ClaimedSeatLocks
from adapters.fakes.seat_locks import InMemorySeatLocks
from adapters.seat_claims import GRANT, Claim, SeatClaimRecorder, SeatClaims, claims_key
from config.settings import Settings

T0 = 1_900_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def claims(settings: Settings, clock: Clock, async_redis: aredis.Redis) -> SeatClaims:
    return SeatClaims(async_redis, settings.redis_prefix, clock=clock)


def holders(redis_client: redis.Redis, settings: Settings, event: str) -> dict[str, str]:
    raw = redis_client.hgetall(claims_key(settings.redis_prefix, event))
    return {
        k.decode(): v.decode().split("|")[0]
        for k, v in raw.items()
        if not k.startswith(GRANT.encode())
    }


async def test_free_seats_are_claimed_and_reported_fresh(claims: SeatClaims, event: str) -> None:
    assert await claims.claim(event, ["s2", "s1"], "A", 30) == Claim(True, fresh=("s1", "s2"))
    # the holder's own live claims are not fresh: a failed addition gives back only new seats
    assert await claims.claim(event, ["s1", "s3"], "A", 30) == Claim(True, fresh=("s3",))


async def test_a_live_claim_of_another_holder_refuses_the_whole_call(
    claims: SeatClaims, event: str, redis_client: redis.Redis, settings: Settings
) -> None:
    assert (await claims.claim(event, ["s1"], "A", 30)).claimed
    refused = await claims.claim(event, ["s1", "s2", "s3"], "B", 30)

    assert refused == Claim(False, taken=("s1",))
    assert holders(redis_client, settings, event) == {"s1": "A"}  # nothing written


async def test_an_expired_claim_is_free(claims: SeatClaims, clock: Clock, event: str) -> None:
    assert (await claims.claim(event, ["s1"], "A", 30)).claimed
    clock.now += 30
    assert not (await claims.claim(event, ["s1"], "B", 30)).claimed  # live to the second
    clock.now += 1
    assert await claims.claim(event, ["s1"], "B", 30) == Claim(True, fresh=("s1",))


async def test_unclaim_drops_only_the_holders_own_claims(
    claims: SeatClaims, event: str, redis_client: redis.Redis, settings: Settings
) -> None:
    assert (await claims.claim(event, ["s1"], "A", 30)).claimed
    assert (await claims.claim(event, ["s2"], "B", 30)).claimed
    await claims.unclaim(event, ["s1", "s2"], "A")
    assert holders(redis_client, settings, event) == {"s2": "B"}


async def test_recording_what_dynamodb_decided_overrides_other_claims(
    claims: SeatClaims, recorder: SeatClaimRecorder, event: str
) -> None:
    assert (await claims.claim(event, ["s1"], "A", 30)).claimed
    recorder.record(event, ["s1"], "B", T0 + 60)
    assert await claims.claim(event, ["s1"], "A", 30) == Claim(False, taken=("s1",))
    recorder.unclaim(event, ["s1"], "B")
    assert (await claims.claim(event, ["s1"], "A", 30)).claimed


async def test_the_claims_key_expires_after_its_last_claim(
    claims: SeatClaims, event: str, redis_client: redis.Redis, settings: Settings
) -> None:
    await claims.claim(event, ["s1"], "A", 30)
    ttl = redis_client.ttl(claims_key(settings.redis_prefix, event))
    assert 30 < ttl <= 30 + 3600


async def test_claims_fail_open_when_redis_is_unreachable(event: str) -> None:
    dead = aredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    claims = SeatClaims(dead, "test:")
    try:
        assert await claims.claim(event, ["s1"], "A", 30) == Claim(True)
        await claims.unclaim(event, ["s1"], "A")  # logged, not raised
    finally:
        await dead.aclose()
    SeatClaimRecorder(redis.Redis(host="127.0.0.1", port=1), "test:").record(event, ["s1"], "A", T0)


async def test_claimed_seat_locks_keep_claims_in_step_with_the_locks(
    claims: SeatClaims, recorder: SeatClaimRecorder, event: str, clock: Clock
) -> None:
    locks = ClaimedSeatLocks(InMemorySeatLocks(clock=clock), recorder)
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 30).acquired
    assert await claims.claim(event, ["s2"], "B", 30) == Claim(False, taken=("s2",))

    refused: Any = locks.acquire(event, ["s2", "s3"], "B", "bob", 30)
    assert not refused.acquired
    assert (await claims.claim(event, ["s3"], "C", 30)).claimed  # a refusal recorded nothing

    assert locks.release(event, ["s1", "s2"], "A") == 2
    assert await claims.claim(event, ["s1", "s2"], "B", 30) == Claim(True, fresh=("s1", "s2"))


async def test_grants_follow_the_locks_for_the_seat_map(
    claims: SeatClaims, recorder: SeatClaimRecorder, event: str, clock: Clock
) -> None:
    dynamodb = InMemorySeatLocks(clock=clock)
    locks = ClaimedSeatLocks(dynamodb, recorder)
    now = int(clock.now)
    assert (await claims.claim(event, ["s4"], "D", 30)).claimed  # claimed, not granted yet
    assert locks.acquire(event, ["s1", "s2"], "A", "alice", 30, now=now).acquired
    assert locks.acquire(event, ["s3"], "B", "bob", 10, now=now).acquired

    def both(at: int) -> tuple[set[str], set[str]]:
        return locks.held_seat_ids(event, now=at), dynamodb.held_seat_ids(event, now=at)

    assert both(now) == ({"s1", "s2", "s3"}, {"s1", "s2", "s3"})
    assert both(now + 11) == ({"s1", "s2"}, {"s1", "s2"})  # B's lapsed
    assert locks.extend(event, ["s1", "s2"], "A", 60, now=now + 20) == now + 80
    assert both(now + 60) == ({"s1", "s2"}, {"s1", "s2"})
    locks.release(event, ["s3"], "A")  # not A's: B's lapsed grant stays B's
    assert locks.release(event, ["s1"], "A") == 1
    assert both(now) == ({"s2", "s3"}, {"s2", "s3"})
    assert recorder.live_claims(event, now=now) == {"s2": "A", "s3": "B", "s4": "D"}
    # Read from the grants, not DynamoDB: a lock granted while Redis was away is not among them
    # (its holds are still refused by DynamoDB; the map shows the seat until the lock ends).
    assert dynamodb.acquire(event, ["s5"], "E", "eve", 30, now=now).acquired
    assert both(now) == ({"s2", "s3"}, {"s2", "s3", "s5"})


def test_without_redis_the_held_seats_come_from_dynamodb(event: str, clock: Clock) -> None:
    dynamodb = InMemorySeatLocks(clock=clock)
    dead = SeatClaimRecorder(redis.Redis(host="127.0.0.1", port=1), "test:")
    locks = ClaimedSeatLocks(dynamodb, dead)
    assert locks.acquire(event, ["s1"], "A", "alice", 30).acquired  # the record is logged

    assert locks.held_seat_ids(event) == {"s1"}
