"""A buyer's ``queueUpdates`` subscription over ``graphql-transport-ws``, as the page keeps it
(``api/web/views/queue.js``): the token in ``connection_init``, one subscription, each status
the room sends until the wait is over."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

PROTOCOL = "graphql-transport-ws"


class SocketEnded(Exception):
    """The socket or the subscription ended before the room said the wait was over."""


def updates_query(fields: str) -> str:
    return f"""subscription Updates($eventId: ID!) {{ queueUpdates(eventId: $eventId) {{
  {fields} }} }}"""


async def subscription(
    session: aiohttp.ClientSession,
    ws_url: str,
    token: str,
    query: str,
    variables: dict[str, Any],
    subscribed: Callable[[], None] = lambda: None,
) -> AsyncIterator[dict[str, Any]]:
    """Each payload the subscription sends (``subscribed`` is called once it is asked for);
    returns when the server completes it, raises ``SocketEnded`` on anything else (a closed
    socket, an error message)."""
    async with session.ws_connect(ws_url, protocols=(PROTOCOL,)) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send_str(orjson.dumps(init).decode())
        ack = await ws.receive()
        if ack.type != aiohttp.WSMsgType.TEXT or orjson.loads(ack.data).get("type") != (
            "connection_ack"
        ):
            raise SocketEnded(f"no connection_ack: {ack.type.name} {str(ack.data)[:80]}")
        payload = {"query": query, "variables": variables}
        subscribe = {"id": "1", "type": "subscribe", "payload": payload}
        await ws.send_str(orjson.dumps(subscribe).decode())
        subscribed()
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise SocketEnded(f"socket {message.type.name}")
            body = orjson.loads(message.data)
            if body.get("type") == "complete":
                return
            if body.get("type") != "next":
                raise SocketEnded(f"{body.get('type')} {body.get('payload')}"[:120])
            yield body["payload"]


async def queue_updates(
    session: aiohttp.ClientSession, ws_url: str, event_id: str, token: str, fields: str
) -> AsyncIterator[dict[str, Any] | None]:
    """Each status the ``queueUpdates`` subscription sends (None: an update with errors
    instead, which the page skips), as ``subscription``."""
    updates = subscription(session, ws_url, token, updates_query(fields), {"eventId": event_id})
    async with contextlib.aclosing(updates):
        async for payload in updates:
            yield (payload.get("data") or {}).get("queueUpdates")
