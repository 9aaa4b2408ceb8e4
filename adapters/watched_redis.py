"""The API's Redis clients, whose calls give up as soon as the backend watch says Redis is down.

Every Redis call of the API has a fallback: the seat claims and the open-checkout pointer fail
open to DynamoDB, the rate limiter lets the request through, the seat-map caches are read
around. A frozen Redis, though, reaches the fallback only after the client's socket timeout,
times its retries (``config/settings.py``'s timeouts), and a request that makes several such
calls in a row (the rate limiter's lease, the claims, the pointer) stacked them into a 10 s
answer. Shorter timeouts would trip under load (an asyncio client's timeout runs on the busy
event loop), and slow is not down. So the outage is told where it always is, by the watch
(``api/backend_watch.py``): while Redis is down a call fails at once, and one waiting when
it goes down is cut then (the asyncio client's; a thread's blocking call cannot be cut and
keeps its own timeouts). Either way it raises the ``ConnectionError`` that its caller already
turns into its fallback, so no caller changes.

The asyncio client also hands out its pooled connections without a turn of the event loop
(``_ReadyConnectionPool``). redis-py 7 checks each connection it takes from the pool by reading
it under a zero timeout, which always suspends the caller: on the API's busy event loop each
Redis call (a hold's claim, a seat-map read's version, a rate-limit lease) then waited behind
every ready request about twice more before its command was even sent. What it saves: that
wait, on every Redis call of the API; in the flash sale, the refusals answered by the claim
script (the refusal p99) and the seat-map reads (``docs/measurements.md``, 2026-12-06
12:39).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aredis
from redis._parsers.hiredis import _AsyncHiredisParser
from redis.exceptions import ConnectionError as RedisConnectionError

# Runs a call while Redis answers; raises ``redis_down`` otherwise (BackendWatch.guarding).
AsyncGuard = Callable[[Awaitable[Any]], Awaitable[Any]]
# The backends of Redis's needs that are down (BackendWatch.down, bound).
DownNow = Callable[[], list[str]]


def redis_down(names: list[str]) -> RedisConnectionError:
    """What a call refused by the watch raises: the error its caller's fallback handles."""
    return RedisConnectionError(f"redis is down (backend watch: {', '.join(names)})")


async def _unguarded(call: Awaitable[Any]) -> Any:
    return await call


def _unread(connection: aredis.connection.AbstractConnection) -> bool | None:
    """Whether a connected connection holds anything unread (a reply left behind, or the
    server's close), from what it has already received; None when its parser is not one this
    can look into."""
    parser = connection._parser
    if not isinstance(parser, _AsyncHiredisParser) or not getattr(parser, "_connected", False):
        return None
    stream = parser._stream
    return parser._reader.has_data() or stream.at_eof() or bool(stream._buffer)


class _ReadyConnectionPool(aredis.ConnectionPool):
    """Checks a connected connection it hands out without suspending the caller (see the
    module doc; redis-py 8 checks the same way). A connection with anything unread, or not
    connected, goes through redis-py's own check, which reconnects it."""

    async def ensure_connection(self, connection: aredis.connection.AbstractConnection) -> None:
        if connection.is_connected and _unread(connection) is False:
            return
        await super().ensure_connection(connection)


class WatchedAsyncRedis(aredis.Redis):
    """``redis.asyncio.Redis`` whose commands (scripts included: EVALSHA is one) and pipelines
    run under ``guard``. Set ``guard`` once the watch exists (bootstrap.build_services)."""

    guard: AsyncGuard = staticmethod(_unguarded)  # type: ignore[assignment]

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> WatchedAsyncRedis:  # type: ignore[override]
        """A client on a ``_ReadyConnectionPool`` (``kwargs`` as ``ConnectionPool.from_url``)."""
        return cls.from_pool(_ReadyConnectionPool.from_url(url, **kwargs))

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        return await self.guard(super().execute_command(*args, **options))

    def pipeline(
        self, transaction: bool = True, shard_hint: str | None = None
    ) -> aredis.client.Pipeline:
        # A pipeline's commands are buffered, then sent by its own ``execute``: guarded there.
        pipe = _WatchedPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.guard = self.guard
        return pipe


class _WatchedPipeline(aredis.client.Pipeline):
    guard: AsyncGuard = staticmethod(_unguarded)  # type: ignore[assignment]

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        return await self.guard(super().execute(raise_on_error))  # type: ignore[no-any-return]


def _nothing_down() -> list[str]:
    return []


class WatchedRedis(redis.Redis):
    """``redis.Redis`` (called from threads) whose commands and pipelines fail at once while
    ``down_now()`` names a backend: a blocking call cannot be cut, but none starts into a
    known outage."""

    down_now: DownNow = staticmethod(_nothing_down)  # type: ignore[assignment]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        _refuse_if_down(self.down_now)
        return super().execute_command(*args, **options)

    def pipeline(
        self, transaction: bool = True, shard_hint: str | None = None
    ) -> redis.client.Pipeline:
        pipe = _WatchedSyncPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.down_now = self.down_now
        return pipe


class _WatchedSyncPipeline(redis.client.Pipeline):
    down_now: DownNow = staticmethod(_nothing_down)  # type: ignore[assignment]

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        _refuse_if_down(self.down_now)
        return super().execute(raise_on_error)  # type: ignore[no-any-return]


def _refuse_if_down(down_now: DownNow) -> None:
    down = down_now()
    if down:
        raise redis_down(down)
