"""One concurrent lane of the load generator: one keep-alive HTTP connection, like a browser.

aiohttp rather than httpx: the load generator shares the 2-core box with the system it
measures, so its own CPU is taken from the API, the worker and the servers. A py-spy profile
of the httpx generator showed 82% of its time inside httpx/httpcore, a fifth of that in an
import attempt that httpcore repeats for every request (``current_async_library``) and in
cookie bookkeeping the benchmark does not need.

Replies are decoded with orjson: a 1,000-seat map is 82 KB of JSON, 1.2 ms for the standard
library on the evening's box and 0.4 ms for orjson, and while one reply is decoded no other
reply is read.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp
import orjson

from bench.buyer import app_ms

TIMEOUT_SECONDS = 120.0


class Lane:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Lane:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),  # one connection per lane, kept alive
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def post_json(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, float | None]:
        """(HTTP status, decoded JSON body or None, the API's own ms from ``Server-Timing``);
        a transport failure is status 0 with an error body naming the exception, never an
        exception."""
        assert self._session is not None, "use the lane in `async with`"
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                raw = await response.read()
                status = response.status
                server_ms = app_ms(response.headers.get("server-timing"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            return 0, {"errors": [{"extensions": {"code": type(exc).__name__}}]}, None
        try:
            return status, orjson.loads(raw), server_ms
        except orjson.JSONDecodeError:
            return status, None, server_ms
