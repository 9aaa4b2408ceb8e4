"""The graphql-transport-ws handler: strict about frames that are not protocol messages, and
held to the limits HTTP has (``api/request_limits.py``), plus the websocket's own caps.

What each refusal looks like to a client, and what its check costs:
- a connection over ``WS_MAX_CONNECTIONS_PER_IP`` open from its address in this process, or a
  handshake over the address's rate limit (a handshake is one request to it): accepted, then
  closed with 4429 and a reason. A dict lookup; the rate check is the HTTP one (Redis once
  per lease of requests);
- a frame larger than a request may be (the HTTP body's cap): closed with 4413 and a reason.
  Its length in UTF-8, free for an ASCII frame (an encode only for one that is not). uvicorn
  reads a whole frame first, up to its ``--ws-max-size`` (16 MiB unless set lower);
- a ``subscribe`` over the rate limits of the address and the connection's user: an ``error``
  message for the operation, code ``RATE_LIMITED`` with ``retryAfter``; one past
  ``WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`` operations open on the connection: an ``error``,
  code ``TOO_MANY_SUBSCRIPTIONS``; a payload that is not a GraphQL request or has a NUL
  character: an ``error``, code ``BAD_USER_INPUT``. A refused operation runs nothing.
The query's own size, depth and root fields are checked by the pipeline HTTP uses too (the
same ``query_parser`` and ``validation_rules``: ariadne hands both transports the same ones).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ariadne.asgi.handlers import GraphQLTransportWSHandler
from ariadne.asgi.handlers.graphql_transport_ws import ClientContext
from ariadne.graphql import validate_data
from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.context import build_context
from api.errors import BAD_USER_INPUT
from api.request_limits import (
    Refusal,
    admit,
    data_refusal,
    max_request_bytes,
    rate_refusal,
    size_refusal,
)
from api.services import Services

TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
# The protocol's own codes mirror HTTP statuses (4400, 4401, 4429, ...); so do these.
CLOSE_TOO_LARGE = 4413
CLOSE_TOO_MANY = 4429
_FRAME_BYTES = "tb.ws_frame_bytes"  # the scope key of the size of the frame being handled


class StrictTransportWSHandler(GraphQLTransportWSHandler):
    """A frame that is not a JSON object is an invalid message: the protocol closes the
    connection with 4400. Ariadne let the decoding error escape instead (an unhandled
    exception in the log, and a connection dropped without a close frame)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections open per client address, in this process. A count of what is open now,
        # not a rate, so not the ``limits`` library's; in memory, because a count in Redis
        # would outlive a process that dies with its connections. N replicas allow N times it.
        self._open: Counter[str] = Counter()

    async def handle_websocket(self, websocket: WebSocket) -> None:
        services: Services | None = getattr(websocket.app.state, "services", None)
        if services is None:  # an app without its services: nothing to count with
            websocket.receive_json = self._frames(websocket, None)  # type: ignore[method-assign]
            await super().handle_websocket(websocket)
            return
        ip = websocket.client.host if websocket.client else "unknown"
        refusal = await self._connection_refusal(services, ip)
        if refusal is not None:
            # Accepted first: a socket closed before its handshake is answered gets an HTTP
            # 403 and no close code or reason.
            await websocket.accept("graphql-transport-ws")
            await websocket.close(CLOSE_TOO_MANY, _reason(refusal))
            return
        self._open[ip] += 1
        try:
            max_bytes = max_request_bytes(services.settings)
            websocket.receive_json = self._frames(websocket, max_bytes)  # type: ignore[method-assign]
            await super().handle_websocket(websocket)
        finally:
            self._open[ip] -= 1
            if not self._open[ip]:
                del self._open[ip]

    async def _connection_refusal(self, services: Services, ip: str) -> Refusal | None:
        cap = services.settings.ws_max_connections_per_ip
        if self._open[ip] >= cap:
            return Refusal(429, TOO_MANY_CONNECTIONS, f"at most {cap} connections per address")
        return await rate_refusal(services.rate_limiter, ip, None)

    @staticmethod
    def _frames(websocket: WebSocket, max_bytes: int | None) -> Any:
        """``receive_json`` for ariadne's loop: a frame over ``max_bytes`` closes the socket
        (4413); one that is not a JSON object reads as ``{}``, which the protocol answers by
        closing with 4400."""
        receive = websocket.receive

        async def frame(mode: str = "text") -> Any:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
            text = message.get("text")
            if text is None:  # a binary frame: the protocol's messages are text
                return {}
            # CPython knows a str is ASCII without reading it: no copy for the usual frame.
            size = len(text) if text.isascii() else len(text.encode())
            refusal = None if max_bytes is None else size_refusal(size, max_bytes)
            if refusal is not None:
                await websocket.close(CLOSE_TOO_LARGE, _reason(refusal))
                raise WebSocketDisconnect(CLOSE_TOO_LARGE, refusal.message)
            websocket.scope[_FRAME_BYTES] = size
            try:
                value = json.loads(text)
            except ValueError:  # json.JSONDecodeError
                return {}
            return value if isinstance(value, dict) else {}

        return frame

    async def handle_websocket_subscribe(
        self,
        websocket: WebSocket,
        data: Any,
        operation_id: str,
        client_context: ClientContext,
    ) -> None:
        services: Services | None = getattr(websocket.app.state, "services", None)
        # The protocol's own refusals first (not acknowledged: 4401; an id in use: 4409).
        admissible = (
            services is not None
            and client_context.connection_acknowledged
            and operation_id not in client_context.operations
        )
        if admissible:
            assert services is not None
            refusal = await self._operation_refusal(websocket, services, data, client_context)
            if refusal is not None:
                await websocket.send_json(
                    {"type": self.GQL_ERROR, "id": operation_id, "payload": [refusal.error()]}
                )
                return
        await super().handle_websocket_subscribe(websocket, data, operation_id, client_context)

    @staticmethod
    async def _operation_refusal(
        websocket: WebSocket, services: Services, data: Any, client_context: ClientContext
    ) -> Refusal | None:
        try:
            validate_data(data)  # ariadne's, raised out of its handler: no close, no answer
        except GraphQLError as error:
            return Refusal(400, BAD_USER_INPUT, error.message)
        refusal = data_refusal(data)
        if refusal is not None:
            return refusal
        cap = services.settings.ws_max_subscriptions_per_connection
        if len(client_context.operations) >= cap:
            message = f"at most {cap} operations open per connection; complete one first"
            return Refusal(429, TOO_MANY_SUBSCRIPTIONS, message)
        limiter = services.rate_limiter
        if not limiter.enabled:
            return None
        context = build_context(services, websocket)  # the user of connection_init's token
        user_id = context.identity.user_id if context.identity else None
        size = websocket.scope.get(_FRAME_BYTES, 0)
        return await admit(limiter, context.ip, user_id, size, max_request_bytes(services.settings))


def _reason(refusal: Refusal) -> str:
    """A close frame's reason (at most 123 bytes): the code, then the message."""
    retry = "" if refusal.retry_after is None else f"; retry after {refusal.retry_after}s"
    return f"{refusal.code}: {refusal.message}{retry}"[:123]
