"""Pure-ASGI middleware: request id + access log + latency metric, ``Server-Timing``, security
headers, rate limits and a request-size cap (pure ASGI so websockets pass through untouched)."""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import bearer_token
from api.metrics import REQUEST_LATENCY, labelled
from api.request_limits import admit, size_refusal
from api.services import Services

log = structlog.get_logger("api.access")

_KNOWN_PATHS = {
    "/graphql",
    "/health",
    "/health/db",
    "/health/cache",
    "/health/ready",
    "/metrics",
}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,100}")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# JSON responses need nothing; the GraphiQL page (development only) loads its own assets.
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
_RAW_SECURITY_HEADERS = [
    (k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()
]
_RAW_JSON_CSP = (b"content-security-policy", JSON_CSP.encode("latin-1"))
_RAW_HSTS = (b"strict-transport-security", b"max-age=31536000")

# The version-4 bits of a UUID: the same 32 hex digits as ``uuid.uuid4().hex``.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """A random version-4 UUID as 32 hex digits. A request id only correlates log lines (a
    client may send its own), so it needs no cryptographic randomness: ``uuid.uuid4`` reads
    the kernel's random source on every request, which showed up among the costliest calls
    of a fast request."""
    return f"{(random.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"


def _add_missing(headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]) -> None:
    """Appends each of ``extra`` whose name ``headers`` lacks (``MutableHeaders.setdefault``
    for several names, with one pass over the response's headers)."""
    present = {name for name, _ in headers}
    headers.extend(item for item in extra if item[0] not in present)


async def _send_json_error(
    send: Send, status: int, error: dict[str, Any], headers: dict[str, str]
) -> None:
    body = json.dumps({"errors": [error]}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ApiMiddleware:
    def __init__(
        self, app: ASGIApp, production: bool = False, max_body_bytes: int = 100_000
    ) -> None:
        self.app = app
        self.production = production
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else new_request_id()
        path = scope.get("path", "")
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                out = MutableHeaders(scope=message)
                out["x-request-id"] = request_id
                # The API's own time to the response's start: what a client's latency, which
                # also counts the network and its own queues, is compared against.
                out["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                extra = list(_RAW_SECURITY_HEADERS)
                if not out.get("content-type", "").startswith("text/html"):
                    extra.append(_RAW_JSON_CSP)
                if self.production:
                    extra.append(_RAW_HSTS)
                _add_missing(out.raw, extra)
            await send(message)

        try:
            if path == "/graphql" and scope.get("method") == "POST":
                admitted = await self._admitted(scope, headers, receive, send_wrapper)
                if admitted is None:
                    return
                receive = admitted
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            label = path if path in _KNOWN_PATHS else "other"
            status = status_holder["status"]
            labelled(REQUEST_LATENCY, scope.get("method", ""), label, str(status)).observe(elapsed)
            log.info(
                "request",
                method=scope.get("method"),
                path=path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _admitted(
        self, scope: Scope, headers: Headers, receive: Receive, send: Send
    ) -> Receive | None:
        """``receive`` for the app when the request may run (``api/request_limits.py``, the
        rules the websocket applies too), else None, the refusal sent.

        A declared length is checked before anything is read. A body sent without one
        (``Transfer-Encoding: chunked``) is read here, up to the cap, and handed on whole, so
        that no size of body reaches the GraphQL handler, which reads it all at once."""
        length = headers.get("content-length")
        if length is not None:
            size = int(length) if length.isdigit() else self.max_body_bytes + 1
        else:
            size, receive = await self._read_capped(receive)
        services: Services | None = getattr(scope["app"].state, "services", None)
        if services is None:
            refusal = size_refusal(size, self.max_body_bytes)
        else:
            limiter = services.rate_limiter
            client: Any = scope.get("client")
            ip = client[0] if client else "unknown"
            # The token is read only when the limits will count it: a check costs a JWT decode.
            user_id = self._user_id(services, headers) if limiter.enabled else None
            refusal = await admit(limiter, ip, user_id, size, self.max_body_bytes)
        if refusal is None:
            return receive
        retry = {} if refusal.retry_after is None else {"retry-after": str(refusal.retry_after)}
        await _send_json_error(send, refusal.status, refusal.error(), retry)
        return None

    @staticmethod
    def _user_id(services: Services, headers: Headers) -> str | None:
        token = bearer_token(headers.get("authorization"))
        identity = services.tokens.verify(token) if token else None
        return identity.user_id if identity else None

    async def _read_capped(self, receive: Receive) -> tuple[int, Receive]:
        """Reads a body of undeclared length until its end or past the cap: the bytes read
        (past the cap: refused unread further) and a ``receive`` that replays them."""
        messages: list[Message] = []
        size = 0
        while size <= self.max_body_bytes:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client went away: the app sees it
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return size, replay
