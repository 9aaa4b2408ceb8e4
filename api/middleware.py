"""Pure-ASGI middleware: request id + access log + latency metric, ``Server-Timing``, security
headers, rate limits and a request-size cap (pure ASGI so websockets pass through untouched)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import bearer_token
from api.errors import BAD_USER_INPUT, RATE_LIMITED
from api.metrics import RATE_LIMITED as RATE_LIMITED_COUNT
from api.metrics import REQUEST_LATENCY
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


async def _send_json_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
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
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
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
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                if not out.get("content-type", "").startswith("text/html"):
                    out.setdefault("content-security-policy", JSON_CSP)
                if self.production:
                    out.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        try:
            if path == "/graphql" and scope.get("method") == "POST":
                capped = await self._capped_body(headers, receive, send_wrapper)
                if capped is None or not await self._admit(scope, headers, send_wrapper):
                    return
                receive = capped
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            label = path if path in _KNOWN_PATHS else "other"
            status = status_holder["status"]
            REQUEST_LATENCY.labels(scope.get("method", ""), label, str(status)).observe(elapsed)
            log.info(
                "request",
                method=scope.get("method"),
                path=path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _capped_body(self, headers: Headers, receive: Receive, send: Send) -> Receive | None:
        """``receive`` for the app when the body is within the cap, else None (413 sent).

        A declared length is checked before anything is read. A body sent without one
        (``Transfer-Encoding: chunked``) is read here, up to the cap, and handed on whole, so
        that no size of body reaches the GraphQL handler, which reads it all at once."""
        length = headers.get("content-length")
        if length is not None:
            if length.isdigit() and int(length) <= self.max_body_bytes:
                return receive
            await _send_json_error(send, 413, BAD_USER_INPUT, "request body is too large")
            return None
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client went away: the app sees it
                break
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                await _send_json_error(send, 413, BAD_USER_INPUT, "request body is too large")
                return None
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return replay

    async def _admit(self, scope: Scope, headers: Headers, send: Send) -> bool:
        services: Services | None = getattr(scope["app"].state, "services", None)
        if services is None or not services.rate_limiter.enabled:
            return True
        token = bearer_token(headers.get("authorization"))
        identity = services.tokens.verify(token) if token else None
        client: Any = scope.get("client")
        ip = client[0] if client else "unknown"
        verdict = await services.rate_limiter.check(ip, identity.user_id if identity else None)
        if verdict.allowed:
            return True
        RATE_LIMITED_COUNT.labels(verdict.scope).inc()
        await _send_json_error(
            send,
            429,
            RATE_LIMITED,
            f"too many requests (per {verdict.scope}); retry later",
            {"retry-after": str(verdict.retry_after)},
        )
        return False
