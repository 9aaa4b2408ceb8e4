"""``seatMap``: every seat with its place and status, from the sources ``availableSeats``
reads, cached like it and invalidated by the same announcements."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.resolvers.reports import seat_plans
from api.services import Services
from tests.api.conftest import data_of, error_codes

pytestmark = pytest.mark.usefixtures("api_worker")

SEAT_MAP = """query($e: ID!) { seatMap(eventId: $e) {
  eventId width height seats { id section row number type price x y status } } }"""
AVAILABLE = "query($e: ID!) { availableSeats(eventId: $e) { id } }"
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success checkout { id } } }"""
PAY = "mutation($c: ID!) { submitPayment(checkoutId: $c) { checkout { status } } }"


def place_seats(engine: Engine, event_id: str, seat_ids: list[str]) -> None:
    """Coordinates and a venue size, as a venue layout would give them."""
    with engine.begin() as conn:
        for i, seat in enumerate(seat_ids):
            conn.execute(
                text("UPDATE seats SET x = :x, y = :y WHERE id = :s"),
                {"x": 10.0 + 20 * i, "y": 15.5, "s": seat},
            )
        conn.execute(
            text(
                "UPDATE venues SET width = 200, height = 80 WHERE id ="
                " (SELECT venue_id FROM events WHERE id = :e)"
            ),
            {"e": event_id},
        )


def block(engine: Engine, services: Services, event_id: str, seat_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE event_seats SET status = 'BLOCKED', block_reason = 'sponsor'"
                " WHERE event_id = :e AND seat_id = :s"
            ),
            {"e": event_id, "s": seat_id},
        )
    services.seatmap_events.changed(event_id, [seat_id], "blocked")


async def read(http: httpx.AsyncClient, event_id: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": SEAT_MAP, "variables": {"e": event_id}})
    assert response.status_code == 200, response.text
    return data_of(response.json())["seatMap"]  # type: ignore[no-any-return]


async def test_every_status_and_place_on_the_map(
    http: httpx.AsyncClient,
    gql: Any,
    make_buyer: Any,
    event_factory: Any,
    engine: Engine,
    services: Services,
) -> None:
    event = event_factory(seats=4)
    held, booked, blocked, free = event.seat_ids
    place_seats(engine, event.id, event.seat_ids)
    first = await read(http, event.id)
    assert {s["status"] for s in first["seats"]} == {"AVAILABLE"}

    holder, buyer = make_buyer(), make_buyer()
    assert data_of(await gql(START, {"e": event.id, "s": [held]}, holder))["startCheckout"][
        "success"
    ]
    started = data_of(await gql(START, {"e": event.id, "s": [booked]}, buyer))["startCheckout"]
    paid = data_of(await gql(PAY, {"c": started["checkout"]["id"]}, buyer))["submitPayment"]
    assert paid["checkout"]["status"] == "CONFIRMED"
    block(engine, services, event.id, blocked)

    seat_map = await read(http, event.id)  # no waiting: every change was announced

    assert seat_map["eventId"] == event.id
    assert (seat_map["width"], seat_map["height"]) == (200.0, 80.0)
    by_id = {s["id"]: s for s in seat_map["seats"]}
    assert [s["id"] for s in seat_map["seats"]] == event.seat_ids  # seat-map order
    assert {seat: by_id[seat]["status"] for seat in event.seat_ids} == {
        held: "HELD",
        booked: "BOOKED",
        blocked: "BLOCKED",
        free: "AVAILABLE",
    }
    assert [(by_id[s]["x"], by_id[s]["y"]) for s in event.seat_ids] == [
        (10.0, 15.5),
        (30.0, 15.5),
        (50.0, 15.5),
        (70.0, 15.5),
    ]
    assert by_id[held] | {"status": None} == {
        "id": held,
        "section": "A",
        "row": "000",
        "number": 1,
        "type": "VIP",
        "price": "75.00",
        "x": 10.0,
        "y": 15.5,
        "status": None,
    }
    # The same sources as availableSeats: AVAILABLE here is exactly what it lists.
    available = data_of(await gql(AVAILABLE, {"e": event.id}))["availableSeats"]
    assert [s["id"] for s in available] == [free]


async def test_the_map_is_built_once_until_a_change_is_announced(
    event_factory: Any, engine: Engine, services: Services
) -> None:
    event = event_factory(seats=3)
    plans = seat_plans(services)
    assert plans.get(event.id).source == "rebuilt"  # type: ignore[union-attr]
    again = plans.get(event.id)
    assert again is not None and again.source == "cache"
    assert [s.status for s in again.seats] == ["AVAILABLE"] * 3

    block(engine, services, event.id, event.seat_ids[0])
    fresh = plans.get(event.id)
    assert fresh is not None and fresh.source == "rebuilt"
    assert fresh.seats[0].status == "BLOCKED"
    ttl_ms = services.redis.pttl(f"{services.settings.redis_prefix}seatmap:{event.id}:plan")
    assert 0 < ttl_ms <= services.settings.seatmap_max_staleness_ms


async def test_the_http_response_is_cached_and_follows_announcements(
    http: httpx.AsyncClient, event_factory: Any, engine: Engine, services: Services
) -> None:
    event = event_factory(seats=2)
    body = {"query": SEAT_MAP, "variables": {"e": event.id}}
    first = await http.post("/graphql", json=body)
    pattern = f"{services.settings.redis_prefix}seatmap:{event.id}:response:*"
    assert list(services.redis.scan_iter(pattern))  # the rendered response is shared
    assert (await http.post("/graphql", json=body)).content == first.content

    block(engine, services, event.id, event.seat_ids[1])
    statuses = [s["status"] for s in (await read(http, event.id))["seats"]]
    assert statuses == ["AVAILABLE", "BLOCKED"]


async def test_an_unknown_event_is_not_found(gql: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert error_codes(await gql(SEAT_MAP, {"e": missing})) == ["NOT_FOUND"]
    assert error_codes(await gql(SEAT_MAP, {"e": "nope"})) == ["BAD_USER_INPUT"]
