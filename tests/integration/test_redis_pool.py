"""The API's asyncio Redis client hands out pooled connections without a turn of the event loop
(adapters/watched_redis.py), and still never hands out one with something unread on it, on the
run's Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from adapters.watched_redis import WatchedAsyncRedis
from bootstrap import async_redis_options
from config.settings import Settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[WatchedAsyncRedis]:
    assert settings.redis_url
    built = WatchedAsyncRedis.from_url(settings.redis_url, **async_redis_options(settings))
    yield built
    await built.aclose()


@pytest.fixture
def key(settings: Settings) -> str:
    return f"{settings.redis_prefix}pool-test:{uuid.uuid4()}"


async def test_a_connected_connection_is_handed_out_without_suspending(
    client: WatchedAsyncRedis,
) -> None:
    await client.ping()  # the pool now holds one connected, clean connection
    taking = client.connection_pool.get_connection()
    with pytest.raises(StopIteration) as done:
        taking.send(None)  # finishes at its first step: it never waited for the loop
    connection = done.value.value
    assert connection.is_connected
    await client.connection_pool.release(connection)


async def test_a_connection_with_an_unread_reply_is_not_reused_as_is(
    client: WatchedAsyncRedis, key: str, redis_client: redis.Redis
) -> None:
    redis_client.set(key, "value", ex=60)
    pool = client.connection_pool
    connection = await pool.get_connection()
    await connection.send_command("PING")  # its PONG is left unread
    await pool.release(connection)
    await asyncio.sleep(0.1)  # the PONG arrives in the connection's buffer

    assert await client.get(key) == b"value"


async def test_a_connection_the_server_closed_is_replaced(
    client: WatchedAsyncRedis, key: str, redis_client: redis.Redis
) -> None:
    redis_client.set(key, "value", ex=60)
    own_id = await client.client_id()
    redis_client.client_kill_filter(_id=own_id)
    await asyncio.sleep(0.1)  # the close reaches the pooled connection

    assert await client.get(key) == b"value"
    assert await client.client_id() != own_id
