"""A claim outlives its hold's failure by the pending grace at most, and a drop that failed
while Redis was unreachable is done once it answers again (``adapters/seat_claims.py``).

Redis is made unreachable by stopping a TCP proxy in front of the run's Redis (the machine's
is shared: it is never stopped or frozen)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis
import redis.asyncio as aredis

from adapters.seat_claims import (
    GRANT,
    PENDING_CLAIM_SECONDS,
    SeatClaimRecorder,
    SeatClaims,
    claims_key,
)
from bench.tcp_proxy import TcpProxy
from config.settings import Settings


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    target = redis.connection.parse_url(settings.redis_url or "")
    running = TcpProxy(target.get("host", "127.0.0.1"), int(target.get("port", 6379)))
    await running.start()
    yield running
    await running.stop()


def _proxied_url(settings: Settings, proxy: TcpProxy) -> str:
    db = redis.connection.parse_url(settings.redis_url or "").get("db", 0)
    return f"redis://127.0.0.1:{proxy.port}/{db}"


async def _eventually(done: Callable[[], bool], what: str, within: float = 20.0) -> None:
    # A bound for a failing test only, never a timing assertion.
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_claim_lasts_the_pending_grace_until_the_saga_records_the_hold(
    settings: Settings, async_redis: aredis.Redis, redis_client: redis.Redis, event: str
) -> None:
    now = 1_900_000_000
    claims = SeatClaims(async_redis, settings.redis_prefix, clock=lambda: now)
    await claims.claim(event, ["s1"], "A", ttl_seconds=300)
    key = claims_key(settings.redis_prefix, event)

    assert redis_client.hget(key, "s1") == f"A|{now + PENDING_CLAIM_SECONDS}".encode()
    SeatClaimRecorder(redis_client, settings.redis_prefix).record(event, ["s1"], "A", now + 300)
    assert redis_client.hget(key, "s1") == f"A|{now + 300}".encode()


async def test_a_drop_that_failed_is_done_once_redis_answers(
    settings: Settings, proxy: TcpProxy, redis_client: redis.Redis, event: str
) -> None:
    client = aredis.Redis.from_url(
        _proxied_url(settings, proxy), socket_timeout=0.5, socket_connect_timeout=0.5
    )
    claims = SeatClaims(client, settings.redis_prefix, retry_seconds=0.05)
    assert (await claims.claim(event, ["s1", "s2"], "A", 300)).claimed
    key = claims_key(settings.redis_prefix, event)
    await proxy.stop()

    await claims.unclaim(event, ["s1", "s2"], "A")  # fails: kept, not raised

    assert len(claims.undropped) == 1
    assert set(redis_client.hkeys(key)) == {b"s1", b"s2"}
    await proxy.start()
    await _eventually(lambda: not redis_client.hkeys(key), "the claims were not dropped")
    assert len(claims.undropped) == 0
    await client.aclose()


async def test_a_release_whose_drop_failed_drops_claim_and_grant_once_redis_answers(
    settings: Settings, proxy: TcpProxy, redis_client: redis.Redis, event: str
) -> None:
    client = redis.Redis.from_url(
        _proxied_url(settings, proxy), socket_timeout=0.5, socket_connect_timeout=0.5
    )
    recorder = SeatClaimRecorder(client, settings.redis_prefix, retry_seconds=0.05)
    # In a thread: the proxy runs on this loop.
    await asyncio.to_thread(recorder.record, event, ["s1"], "A", int(time.time()) + 300)
    key = claims_key(settings.redis_prefix, event)
    assert set(redis_client.hkeys(key)) == {b"s1", f"{GRANT}s1".encode()}
    await proxy.stop()

    await asyncio.to_thread(recorder.unclaim, event, ["s1"], "A")

    assert set(redis_client.hkeys(key)) == {b"s1", f"{GRANT}s1".encode()}
    await proxy.start()
    await _eventually(lambda: not redis_client.hkeys(key), "claim and grant were not dropped")
    client.close()
