"""The API process's copy of the seat claims, fed by the claims' feed on the run's Redis."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.client import PubSub

from adapters.claims_mirror import ClaimsMirror
from adapters.seat_claims import SeatClaimRecorder, SeatClaims
from config.settings import Settings

SEATS = [f"s{i}" for i in range(8)]


@pytest.fixture
async def mirror(settings: Settings, async_redis: aredis.Redis) -> AsyncIterator[ClaimsMirror]:
    assert settings.redis_url
    built = ClaimsMirror(settings.redis_url, async_redis, settings.redis_prefix, retry_seconds=0.2)
    yield built
    await built.close()


@pytest.fixture
def claims(settings: Settings, async_redis: aredis.Redis) -> SeatClaims:
    return SeatClaims(async_redis, settings.redis_prefix)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the copy did not catch up"
        await asyncio.sleep(0.01)


async def copied(mirror: ClaimsMirror, event: str) -> None:
    await until(lambda: mirror.taken(event, SEATS) is not None)


async def synced(mirror: ClaimsMirror, claims: SeatClaims, event: str) -> None:
    """Every change made so far has reached the copy: the feed keeps Redis's order, so once a
    claim made now shows, all earlier changes have been applied."""
    marker, holder = f"marker-{uuid.uuid4()}", str(uuid.uuid4())
    assert (await claims.claim(event, [marker], holder, 60)).claimed
    await until(lambda: mirror.taken(event, [marker]) == (marker,))
    await claims.unclaim(event, [marker], holder)


async def test_the_copy_answers_what_redis_answers_through_every_kind_of_change(
    mirror: ClaimsMirror, claims: SeatClaims, recorder: SeatClaimRecorder, event: str
) -> None:
    assert mirror.taken(event, SEATS) is None  # not subscribed yet: ask Redis
    await claims.claim(event, SEATS[:2], "before-the-copy", 60)
    await copied(mirror, event)
    assert mirror.taken(event, SEATS) == tuple(SEATS[:2])

    rng = random.Random(7)
    holders = [str(uuid.uuid4()) for _ in range(4)]
    for _ in range(150):
        seats = rng.sample(SEATS, rng.randint(1, 3))
        holder = rng.choice(holders)
        action = rng.choice(("claim", "record", "unclaim"))
        if action == "claim":
            await claims.claim(event, seats, holder, rng.choice((-5, 60)))
        elif action == "record":
            await asyncio.to_thread(recorder.record, event, seats, holder, int(time.time()) + 60)
        else:
            await asyncio.to_thread(recorder.unclaim, event, seats, holder)
    await synced(mirror, claims, event)

    live = await asyncio.to_thread(recorder.live_claims, event)
    assert mirror.taken(event, SEATS) == tuple(sorted(s for s in SEATS if s in live))


async def test_a_lost_feed_forgets_the_copies_and_reloads_them(
    mirror: ClaimsMirror,
    claims: SeatClaims,
    recorder: SeatClaimRecorder,
    event: str,
    redis_client: redis.Redis,
) -> None:
    await claims.claim(event, ["s1"], "A", 60)
    await copied(mirror, event)
    assert mirror.taken(event, ["s1"]) == ("s1",)

    name = mirror.connection_name
    ids = [c["id"] for c in redis_client.client_list(_type="pubsub") if c["name"] == name]
    assert len(ids) == 1
    redis_client.client_kill_filter(_id=ids[0])
    # Freed while nobody listens: a copy kept past the loss would refuse s1 until it expires.
    await until(lambda: mirror.taken(event, ["s1"]) is None)
    recorder.unclaim(event, ["s1"], "A")

    await copied(mirror, event)
    assert mirror.taken(event, ["s1"]) == ()


async def test_a_feed_follower_that_was_stopped_is_started_again(
    mirror: ClaimsMirror, claims: SeatClaims, event: str
) -> None:
    await claims.claim(event, ["s1"], "A", 60)
    await copied(mirror, event)
    reader = mirror._reader
    assert reader is not None
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)

    assert mirror.taken(event, ["s1"]) is None  # no feed: ask Redis
    await copied(mirror, event)
    assert mirror.taken(event, ["s1"]) == ("s1",)


async def test_a_feed_that_goes_silent_is_dropped_like_a_lost_one(
    settings: Settings,
    async_redis: aredis.Redis,
    claims: SeatClaims,
    event: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings.redis_url
    mirror = ClaimsMirror(
        settings.redis_url, async_redis, settings.redis_prefix, retry_seconds=5, silence_seconds=0.3
    )
    try:
        await claims.claim(event, ["s1"], "A", 60)
        await copied(mirror, event)
        await asyncio.sleep(1.0)  # three times the silence allowed, with nothing published
        assert mirror.taken(event, ["s1"]) == ("s1",)  # alive: its PINGs are answered

        async def unanswered(*_: object) -> None:
            """A half-open connection: the PING leaves, and nothing ever comes back."""

        monkeypatch.setattr(PubSub, "ping", unanswered)
        await until(lambda: mirror.taken(event, ["s1"]) is None, seconds=5)
    finally:
        await mirror.close()
