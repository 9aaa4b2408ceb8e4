"""The API's Redis clients under the backend watch (adapters/watched_redis.py), against a
frozen Redis: a TCP server that accepts connections and never answers, and clients without
any timeout of their own, so only the watch can end a call. A call waiting when Redis goes
down is cut into its caller's fallback (the claims fail open, the rate limiter lets the
request through); while Redis is down no call reaches it at all; while it is up a slow call
is left alone. The worker's Redis client has a watch of its own, by the same rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.seat_claims import Claim, SeatClaims
from adapters.watched_redis import WatchedAsyncRedis, WatchedRedis, redis_down
from api.backend_watch import CACHE, REDIS_CALL, BackendWatch, Check
from api.ratelimit import RateLimiter
from bootstrap import watch_redis
from config.settings import Settings
from tests.unit.scripted_backend import ScriptedBackend as Cache


class FrozenRedis:
    """Accepts connections and reads what is sent, never answers (a SIGSTOPped redis-server
    whose kernel still accepts). Counts the bytes that reached it."""

    def __init__(self) -> None:
        self.received = 0
        self.got_a_command = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        while chunk := await reader.read(65536):
            self.received += len(chunk)
            self.got_a_command.set()

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@dataclass
class World:
    watch: BackendWatch
    cache: Cache
    frozen: FrozenRedis
    client: WatchedAsyncRedis
    url: str


@pytest.fixture
async def world() -> AsyncIterator[World]:
    frozen = FrozenRedis()
    url = f"redis://127.0.0.1:{await frozen.start()}/0"
    cache = Cache()
    watch = BackendWatch(
        {CACHE: Check(cache.check, in_thread=False)},
        interval_seconds=0.01,
        timeout_seconds=0.5,
        down_after=2,
    )
    # No socket timeout and no retry: a call ends only by the watch (or the test's bound).
    client = WatchedAsyncRedis.from_url(url, socket_timeout=None, retry=None)
    client.guard = watch.guarding(REDIS_CALL, redis_down)
    watch.start()
    await cache.probed.wait()
    try:
        # A bound on the test itself, so a broken cut fails instead of hanging; no assertion
        # is made about how long anything took.
        async with asyncio.timeout(30):
            yield World(watch, cache, frozen, client, url)
    finally:
        await watch.stop()
        await client.aclose()
        await frozen.stop()


async def _goes_down_while_waiting(world: World, waiting: asyncio.Task[object]) -> None:
    await world.frozen.got_a_command.wait()
    world.cache.probed.clear()
    await world.cache.probed.wait()
    assert not waiting.done()  # slow while Redis is up is not down
    world.cache.up = False


async def test_a_claim_waiting_on_a_frozen_redis_fails_open_when_the_watch_says_it_is_down(
    world: World,
) -> None:
    claims = SeatClaims(world.client, "t:")
    claiming = asyncio.create_task(claims.claim("event", ["s1", "s2"], "checkout", 60))
    await _goes_down_while_waiting(world, claiming)

    # Let through to DynamoDB, nothing recorded as fresh (nothing to drop).
    assert await claiming == Claim(claimed=True)
    assert world.watch.down(REDIS_CALL) == [CACHE]


async def test_the_rate_limiter_waiting_on_a_frozen_redis_lets_the_request_through(
    world: World,
) -> None:
    limiter = RateLimiter(world.client, "t:", per_user="5/second", per_ip="5/second")
    checking = asyncio.create_task(limiter.check("10.0.0.1", "user"))
    await _goes_down_while_waiting(world, checking)

    assert (await checking).allowed


async def test_while_redis_is_down_no_call_reaches_it(world: World) -> None:
    world.cache.up = False
    while not world.watch.down(REDIS_CALL):
        await asyncio.sleep(0.005)

    with pytest.raises(RedisConnectionError, match="backend watch"):
        await world.client.get("key")
    with pytest.raises(RedisConnectionError, match="backend watch"):
        async with world.client.pipeline(transaction=False) as pipe:
            pipe.mget("a", "b").pttl("b")
            await pipe.execute()
    sync = WatchedRedis.from_url(world.url, socket_timeout=None, retry=None)
    sync.down_now = lambda: world.watch.down(REDIS_CALL)
    with pytest.raises(RedisConnectionError, match="backend watch"):
        sync.get("key")
    with pytest.raises(RedisConnectionError, match="backend watch"):
        sync.pipeline(transaction=True).publish("feed", "x").execute()
    assert world.frozen.received == 0


async def test_a_waiting_pipeline_is_cut_when_redis_goes_down(world: World) -> None:
    async def read() -> object:
        async with world.client.pipeline(transaction=False) as pipe:
            pipe.mget("a", "b").pttl("b")
            return await pipe.execute()

    reading = asyncio.create_task(read())
    await _goes_down_while_waiting(world, reading)

    with pytest.raises(RedisConnectionError, match="backend watch"):
        await reading


async def test_the_workers_redis_fails_at_once_once_its_own_watch_finds_redis_frozen() -> None:
    frozen = FrozenRedis()
    url = f"redis://127.0.0.1:{await frozen.start()}/0"
    settings = Settings(
        redis_url=url, backend_watch_interval_seconds=0.01, health_check_seconds=0.2
    )
    client = WatchedRedis.from_url(url, socket_timeout=None, retry=None)
    watch = watch_redis(settings, client)
    watch.start()
    try:
        async with asyncio.timeout(30):
            while not watch.down(REDIS_CALL):  # its probes go unanswered
                await asyncio.sleep(0.01)
        with pytest.raises(RedisConnectionError, match="backend watch"):
            # Without the watch this would wait forever (no socket timeout).
            client.set("key", "value")
    finally:
        await frozen.stop()
        # Waits out the probe still in its thread (it ends at its socket timeout) and lets the
        # probes end on a refused connection, so no probe thread outlives the test.
        await watch.probe_once()
        await watch.stop()
