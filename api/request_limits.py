"""The limits every GraphQL request meets before it runs, over HTTP and over the websocket.

One request is an HTTP ``POST /graphql`` or one ``subscribe`` message of graphql-transport-ws
(a query, a mutation or a subscription). Both transports ask ``admit`` (its size, then the
rate limits of its address and its user) and ``data_refusal`` (text PostgreSQL cannot store);
each only says how to answer a ``Refusal``: HTTP with its status, the websocket with an
``error`` message for the operation (or, for a frame over the size, by closing).
What the query may ask for (its bytes, depth and root fields) is decided by the GraphQL
pipeline both transports share (``api/limits_rules.py``, configured in ``api/app.py``).

Cost per request: a length comparison, and the rate limiter's check (``api/ratelimit.py``),
which goes to Redis once per lease of requests, not per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import BAD_USER_INPUT, RATE_LIMITED
from api.limits_rules import has_nul
from api.metrics import RATE_LIMITED as RATE_LIMITED_COUNT
from api.ratelimit import RateLimiter
from config.settings import Settings


@dataclass(frozen=True)
class Refusal:
    """Why a request does not run; ``status`` is its HTTP status."""

    status: int
    code: str
    message: str
    retry_after: int | None = None

    def error(self) -> dict[str, Any]:
        """The refusal as a GraphQL error (``extensions.code``, and ``retryAfter`` in seconds)."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.retry_after is not None:
            extensions["retryAfter"] = self.retry_after
        return {"message": self.message, "extensions": extensions}


def max_request_bytes(settings: Settings) -> int:
    """The largest request: an HTTP body, or a websocket frame. Room for the query at its own
    cap and its variables (a venue's layout is the largest input)."""
    return settings.graphql_max_query_bytes * 5


def size_refusal(size: int, max_bytes: int) -> Refusal | None:
    if size <= max_bytes:
        return None
    return Refusal(413, BAD_USER_INPUT, f"request is larger than {max_bytes} bytes")


async def admit(
    limiter: RateLimiter, ip: str, user_id: str | None, size: int, max_bytes: int
) -> Refusal | None:
    """None when the request may run: within the size, and within its address's and its
    user's rate limits (a refused request counts against neither)."""
    refusal = size_refusal(size, max_bytes)
    if refusal is not None:
        return refusal
    return await rate_refusal(limiter, ip, user_id)


async def rate_refusal(limiter: RateLimiter, ip: str, user_id: str | None) -> Refusal | None:
    if not limiter.enabled:
        return None
    verdict = await limiter.check(ip, user_id)
    if verdict.allowed:
        return None
    RATE_LIMITED_COUNT.labels(verdict.scope).inc()
    return Refusal(
        429,
        RATE_LIMITED,
        f"too many requests (per {verdict.scope}); retry later",
        verdict.retry_after,
    )


def data_refusal(data: Any) -> Refusal | None:
    """A NUL character anywhere in the request's JSON: PostgreSQL's text cannot hold one."""
    if has_nul(data):
        return Refusal(400, BAD_USER_INPUT, "text may not contain NUL characters")
    return None
