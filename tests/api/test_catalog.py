from __future__ import annotations

from typing import Any

from tests.api.conftest import data_of, error_codes

EVENTS = """
query GetEvents($limit: Int, $status: EventStatus) {
  events(limit: $limit, status: $status) {
    id name eventDate venue { name address } availableSeats canPurchaseTickets
  }
}"""

SEATS = """
query GetAvailableSeats($eventId: ID!) {
  availableSeats(eventId: $eventId) { id section row number type priceModifier price }
}"""


async def test_available_seats_lists_the_events_inventory(gql: Any, event_factory: Any) -> None:
    event = event_factory(seats=3)
    seats = data_of(await gql(SEATS, {"eventId": event.id}))["availableSeats"]
    assert [s["id"] for s in seats] == event.seat_ids
    vip = seats[0]
    assert vip["type"] == "VIP" and vip["priceModifier"] == "1.500" and vip["price"] == "75.00"


async def test_event_by_id_counts_available_seats(gql: Any, event_factory: Any) -> None:
    event = event_factory(seats=5)
    query = "query($id: ID!) { event(id: $id) { availableSeats canPurchaseTickets status } }"
    found = data_of(await gql(query, {"id": event.id}))["event"]
    assert found == {"availableSeats": 5, "canPurchaseTickets": True, "status": "ON_SALE"}


async def test_an_event_names_its_cheapest_seat_and_the_seats_one_checkout_may_hold(
    gql: Any, event_factory: Any, api_settings: Any
) -> None:
    # The factory's first seat is VIP at 1.5 x 50.00; the others REGULAR at 1.0.
    event = event_factory(seats=3)
    query = "query($id: ID!) { event(id: $id) { priceFrom maxSeatsPerCheckout } }"
    found = data_of(await gql(query, {"id": event.id}))["event"]
    assert found == {
        "priceFrom": "50.00",
        "maxSeatsPerCheckout": api_settings.max_seats_per_checkout,
    }
    vip_only = event_factory(seats=1)
    found = data_of(await gql(query, {"id": vip_only.id}))["event"]
    assert found["priceFrom"] == "75.00"


async def test_draft_event_cannot_be_purchased(gql: Any, event_factory: Any) -> None:
    event = event_factory(seats=2, status="DRAFT")
    query = "query($id: ID!) { event(id: $id) { canPurchaseTickets } }"
    assert data_of(await gql(query, {"id": event.id}))["event"]["canPurchaseTickets"] is False


async def test_events_filter_by_status(gql: Any, event_factory: Any) -> None:
    event = event_factory(seats=1, status="SOLD_OUT")
    listed = data_of(await gql(EVENTS, {"limit": 100, "status": "SOLD_OUT"}))["events"]
    assert event.id in {e["id"] for e in listed}
    assert all(not e["canPurchaseTickets"] for e in listed)


async def test_malformed_and_unknown_ids(gql: Any) -> None:
    assert error_codes(await gql(SEATS, {"eventId": "not-a-uuid"})) == ["BAD_USER_INPUT"]
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_codes(await gql(SEATS, {"eventId": unknown})) == ["NOT_FOUND"]
    assert error_codes(await gql(EVENTS, {"limit": 0})) == ["BAD_USER_INPUT"]
    assert error_codes(await gql(EVENTS, {"status": "NOPE"})) == ["BAD_USER_INPUT"]
