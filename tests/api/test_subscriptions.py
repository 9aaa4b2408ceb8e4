"""Subscriptions over a real websocket (graphql-transport-ws) on a real uvicorn."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.api.conftest import data_of

pytestmark = pytest.mark.usefixtures("api_worker")

START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success checkout { id } } }"""
PAY = "mutation($c: ID!) { submitPayment(checkoutId: $c) { success } }"
PROGRESS = "subscription($c: ID!) { checkoutProgress(checkoutId: $c) { status seatIds } }"
SEAT_MAP = "subscription($e: ID!) { seatMapChanges(eventId: $e) { eventId kind seatIds } }"


async def _next(ws: Any, op_id: str, timeout: float = 30) -> dict[str, Any]:
    """The next message of operation ``op_id`` (others are kept for later)."""
    pending: dict[str, list[dict[str, Any]]] = ws.pending
    if pending.get(op_id):
        return pending[op_id].pop(0)
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message.get("id") == op_id:
            return message
        pending.setdefault(message.get("id", ""), []).append(message)


async def test_checkout_progress_and_seat_map_changes(
    live_server: str, gql: Any, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    event = event_factory(seats=2)
    buyer = make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, buyer))
    checkout_id = started["startCheckout"]["checkout"]["id"]

    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        ws.pending = {}  # type: ignore[attr-defined]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {buyer.token}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for op_id, query, variables in (
            ("map", SEAT_MAP, {"e": event.id}),
            ("progress", PROGRESS, {"c": checkout_id}),
        ):
            payload = {"query": query, "variables": variables}
            await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))

        first = await _next(ws, "progress")
        assert first["type"] == "next", first
        assert first["payload"]["data"]["checkoutProgress"]["status"] == "HELD"

        # The seat-map subscription starts listening asynchronously: announce until it hears.
        probe = None
        for _ in range(100):
            services.seatmap_events.changed(event.id, [event.seat_ids[1]], "released")
            try:
                probe = await _next(ws, "map", timeout=0.2)
                break
            except TimeoutError:
                continue
        assert probe is not None and probe["payload"]["data"]["seatMapChanges"]["kind"]

        paid = data_of(await gql(PAY, {"c": checkout_id}, buyer))["submitPayment"]
        assert paid["success"] is True

        statuses = ["HELD"]
        while statuses[-1] != "CONFIRMED":
            message = await _next(ws, "progress")
            if message["type"] == "complete":
                break
            statuses.append(message["payload"]["data"]["checkoutProgress"]["status"])
        assert statuses[0] == "HELD" and statuses[-1] == "CONFIRMED"
        assert statuses == sorted(set(statuses), key=statuses.index)  # each change once
        assert (await _next(ws, "progress"))["type"] == "complete"

        kinds = []
        while "booked" not in kinds:
            change = (await _next(ws, "map"))["payload"]["data"]["seatMapChanges"]
            assert change["eventId"] == event.id
            kinds.append(change["kind"])
        assert event.seat_ids[0] in change["seatIds"]


async def _subscribe_to_seat_map(live_server: str, token: str, event_id: str) -> Any:
    ws = await websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    )
    ws.pending = {}  # type: ignore[attr-defined]
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": SEAT_MAP, "variables": {"e": event_id}}
    await ws.send(json.dumps({"id": "map", "type": "subscribe", "payload": payload}))
    return ws


async def test_a_quiet_seat_map_subscription_outlives_the_redis_socket_timeout(
    live_server: str, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    # The socket timeout is kept short so that a frozen Redis fails a call fast; a map that
    # nobody touches for longer must still hear the next change (a seat coming back after
    # its hold expired, say).
    event = event_factory(seats=2)
    ws = await _subscribe_to_seat_map(live_server, make_buyer().token, event.id)
    async with ws:
        await _heard(ws, services, event.id, event.seat_ids[0])

        await asyncio.sleep(services.settings.redis_socket_timeout_seconds * 2)

        await _heard(ws, services, event.id, event.seat_ids[1])


async def test_a_seat_map_subscription_outlives_redis_dropping_it(
    live_server: str, make_buyer: Any, event_factory: Any, services: Any, redis_client: Any
) -> None:
    # A drop the client's retry rides out is resubscribed by redis-py; a longer outage by the
    # stream itself, which then sends a "resync" (tests/unit/test_seat_map_feed.py).
    event = event_factory(seats=2)
    others = _subscriber_ids(redis_client)
    ws = await _subscribe_to_seat_map(live_server, make_buyer().token, event.id)
    async with ws:
        await _heard(ws, services, event.id, event.seat_ids[0])

        # Redis drops this subscription's connection (a restart, a failover would drop all);
        # only the connections subscribed since, so nobody else's subscriptions are touched.
        ours = _subscriber_ids(redis_client) - others
        assert ours, "the subscription's connection was not found"
        for client_id in ours:
            redis_client.execute_command("CLIENT", "KILL", "ID", client_id)

        await _heard(ws, services, event.id, event.seat_ids[1])


async def test_pages_following_one_event_share_one_redis_subscription(
    live_server: str, make_buyer: Any, event_factory: Any, services: Any, redis_client: Any
) -> None:
    event = event_factory(seats=2)
    others = _subscriber_ids(redis_client)
    first = await _subscribe_to_seat_map(live_server, make_buyer().token, event.id)
    second = await _subscribe_to_seat_map(live_server, make_buyer().token, event.id)
    async with first, second:
        await _heard(first, services, event.id, event.seat_ids[0])
        await _heard(second, services, event.id, event.seat_ids[1])

        # one pub/sub connection for both pages (each held its own before)
        assert len(_subscriber_ids(redis_client) - others) == 1


async def test_a_page_that_stops_following_at_once_is_not_followed_on(
    live_server: str, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    """The event page subscribes, then learns it waits in a queue and completes the
    operation: both frames in one burst, the complete handled before the stream's first
    read. Many times over, so the race is run both ways."""
    event = event_factory(seats=2)
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        init = {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {make_buyer().token}"},
        }
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": SEAT_MAP, "variables": {"e": event.id}}
        for n in range(20):
            await ws.send(json.dumps({"id": f"map{n}", "type": "subscribe", "payload": payload}))
            await ws.send(json.dumps({"id": f"map{n}", "type": "complete"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"  # every frame before it handled
        for _ in range(50):
            if services.seat_map_feeds.following().get(event.id, 0) == 0:
                break
            await asyncio.sleep(0.1)
        assert services.seat_map_feeds.following().get(event.id, 0) == 0


def _subscriber_ids(redis_client: Any) -> set[str]:
    listed = redis_client.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    text = listed.decode() if isinstance(listed, bytes) else str(listed)
    return {
        field.removeprefix("id=")
        for line in text.splitlines()
        for field in line.split()
        if field.startswith("id=")
    }


async def _heard(ws: Any, services: Any, event_id: str, seat_id: str) -> None:
    """Announces a change of ``seat_id`` until the subscription hears it (it starts listening
    asynchronously); its echoes are left in ``ws.pending``."""
    for _ in range(100):
        services.seatmap_events.changed(event_id, [seat_id], "released")
        try:
            heard = await _next(ws, "map", timeout=0.2)
        except TimeoutError:
            continue
        assert heard["type"] == "next", heard
        if seat_id in heard["payload"]["data"]["seatMapChanges"]["seatIds"]:
            return
    raise AssertionError(f"the subscription never heard {seat_id}")


async def test_someone_elses_checkout_cannot_be_watched(
    gql: Any, make_buyer: Any, event_factory: Any, schema: Any, services: Any
) -> None:
    from ariadne import subscribe

    from api.context import Context
    from api.errors import format_error

    event = event_factory(seats=1)
    owner, other = make_buyer(), make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, owner))
    checkout_id = started["startCheckout"]["checkout"]["id"]
    ok, result = await subscribe(
        schema,
        {"query": PROGRESS, "variables": {"c": checkout_id}},
        context_value=Context(services, other.identity),
        error_formatter=format_error,
    )
    assert not ok
    assert [e["extensions"]["code"] for e in result] == ["NOT_FOUND"]


async def test_a_frame_that_is_not_a_json_object_closes_with_4400(live_server: str) -> None:
    for frame in ("not json", "[1, 2]", '"a string"'):
        async with websockets.connect(
            f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:
            await ws.send(frame)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400, frame
