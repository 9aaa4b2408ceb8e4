"""``bestAvailable`` through the API, on the seat map's live statuses after real holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.api.conftest import data_of, error_codes

pytestmark = pytest.mark.usefixtures("api_worker")

BEST = """query($e: ID!, $n: Int!, $s: String) {
  bestAvailable(eventId: $e, count: $n, section: $s) { id section row number price status } }"""
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success checkout { id } } }"""
PAY = "mutation($c: ID!) { submitPayment(checkoutId: $c) { checkout { status } } }"


def in_a_row(engine: Engine, seat_ids: list[str]) -> None:
    """Seat n at x = n, all in the front row (the factory leaves every seat at 0, 0)."""
    with engine.begin() as conn:
        for n, seat in enumerate(seat_ids, start=1):
            conn.execute(text("UPDATE seats SET x = :x, y = 1 WHERE id = :s"), {"x": n, "s": seat})


async def best(gql: Any, event_id: str, count: int, section: str | None = None) -> list[int]:
    result = await gql(BEST, {"e": event_id, "n": count, "s": section})
    seats = data_of(result)["bestAvailable"]
    assert all(s["status"] == "AVAILABLE" and s["section"] == "A" for s in seats)
    return [s["number"] for s in seats]


async def test_the_best_block_follows_the_live_seat_map(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine
) -> None:
    # One row of 8: seat 1 is VIP (75.00), the rest 50.00.
    event = event_factory(seats=8)
    in_a_row(engine, event.seat_ids)
    assert await best(gql, event.id, 1) == [1]  # the dearest seat first
    assert await best(gql, event.id, 2) == [4, 5]  # then the centre
    seats = data_of(await gql(BEST, {"e": event.id, "n": 2}))["bestAvailable"]
    assert [s["id"] for s in seats] == event.seat_ids[3:5] and seats[0]["price"] == "50.00"

    # Seat 3 held by one buyer, seat 7 booked by another: free are 1-2, 4-6 and 8.
    held = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[2:3]}, make_buyer()))
    assert held["startCheckout"]["success"]
    buyer = make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[6:7]}, buyer))
    paid = await gql(PAY, {"c": started["startCheckout"]["checkout"]["id"]}, buyer)
    assert data_of(paid)["submitPayment"]["checkout"]["status"] == "CONFIRMED"

    # A centred pair (4-5 or 5-6) would strand seat 6 or 4: the pair against the row's end.
    assert await best(gql, event.id, 2) == [1, 2]
    assert await best(gql, event.id, 3) == [4, 5, 6]
    # The VIP seat alone would strand seat 2; the best single that strands nothing is 4.
    assert await best(gql, event.id, 1) == [4]
    assert await best(gql, event.id, 4) == []
    assert await best(gql, event.id, 2, "A") == [1, 2]
    assert await best(gql, event.id, 2, "NO SUCH SECTION") == []


async def test_refusals(gql: Any, event_factory: Any, services: Any) -> None:
    event = event_factory(seats=2)
    most = services.settings.max_seats_per_checkout
    for count in (0, -1, most + 1):
        assert error_codes(await gql(BEST, {"e": event.id, "n": count})) == ["BAD_USER_INPUT"]
    assert error_codes(await gql(BEST, {"e": "not-an-id", "n": 1})) == ["BAD_USER_INPUT"]
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_codes(await gql(BEST, {"e": unknown, "n": 1})) == ["NOT_FOUND"]
    assert error_codes(await gql(BEST, {"e": event.id, "n": 1, "s": "x" * 51})) == [
        "BAD_USER_INPUT"
    ]
