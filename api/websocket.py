"""The graphql-transport-ws handler, strict about frames that are not protocol messages."""

from __future__ import annotations

from typing import Any

from ariadne.asgi.handlers import GraphQLTransportWSHandler
from starlette.websockets import WebSocket


class StrictTransportWSHandler(GraphQLTransportWSHandler):
    """A frame that is not a JSON object is an invalid message: the protocol closes the
    connection with 4400. Ariadne let the decoding error escape instead (an unhandled
    exception in the log, and a connection dropped without a close frame)."""

    async def handle_websocket(self, websocket: WebSocket) -> None:
        receive_json = websocket.receive_json

        async def message_or_invalid(mode: str = "text") -> Any:
            try:
                message = await receive_json(mode)
            except ValueError:  # json.JSONDecodeError and UnicodeDecodeError
                return {}
            return message if isinstance(message, dict) else {}

        websocket.receive_json = message_or_invalid  # type: ignore[method-assign]
        await super().handle_websocket(websocket)
