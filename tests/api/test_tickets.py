"""Tickets and check-in, after real purchases through the saga."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from adapters.orm import CheckIn
from api.resolvers.tickets import signer
from api.services import Services
from domain.tickets import TicketClaims
from tests.api.conftest import data_of, error_codes
from tests.api.purchases import CANCEL_BOOKING, buy

pytestmark = pytest.mark.usefixtures("api_worker")

TICKETS = """query($r: String!) { booking(reference: $r) {
  id eventId status tickets { seatId section row number token qrSvg valid } } }"""
MY_TICKETS = "{ myBookings { bookingReference tickets { seatId token valid } } }"
CHECK_IN = """mutation($e: ID!, $t: String!) { checkIn(eventId: $e, ticket: $t) {
  status message eventId seatId section row number bookingReference checkedInAt } }"""
ADD_STAFF = """mutation($e: ID!, $m: String!) {
  addEventStaff(eventId: $e, email: $m) { success failureReason event { id } } }"""
REMOVE_STAFF = """mutation($e: ID!, $m: String!) {
  removeEventStaff(eventId: $e, email: $m) { success failureReason event { id } } }"""
STAFF = "query($e: ID!) { eventStaff(eventId: $e) { email } }"
REPORT = "query($e: ID!) { salesReport(eventId: $e) { sold checkedIn } }"


def organized_by(engine: Engine, event_id: str, organizer_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET organizer_id = :o WHERE id = :e"),
            {"o": organizer_id, "e": event_id},
        )


async def tickets(gql: Any, buyer: Any, reference: str) -> list[dict[str, Any]]:
    return data_of(await gql(TICKETS, {"r": reference}, buyer))["booking"]["tickets"]  # type: ignore[no-any-return]


@pytest.fixture
async def sale(
    gql: Any, make_buyer: Any, make_organizer: Any, event_factory: Any, engine: Engine
) -> dict[str, Any]:
    """An organizer's 4-seat event; a buyer bought seats 0 and 1 in one booking."""
    event = event_factory(seats=4)
    organizer, buyer = make_organizer(), make_buyer()
    organized_by(engine, event.id, organizer.id)
    reference = await buy(gql, buyer, event.id, event.seat_ids[:2])
    return {
        "event": event,
        "organizer": organizer,
        "buyer": buyer,
        "reference": reference,
        "tickets": await tickets(gql, buyer, reference),
    }


async def check_in(gql: Any, scanner: Any, event_id: str, token: str) -> dict[str, Any]:
    return data_of(await gql(CHECK_IN, {"e": event_id, "t": token}, scanner))["checkIn"]  # type: ignore[no-any-return]


async def test_every_booked_seat_is_a_ticket_with_a_token_and_a_qr_code(
    gql: Any, sale: dict[str, Any], services: Services
) -> None:
    event, buyer = sale["event"], sale["buyer"]
    booking = data_of(await gql(TICKETS, {"r": sale["reference"]}, buyer))["booking"]
    listed = booking["tickets"]
    assert [t["seatId"] for t in listed] == event.seat_ids[:2]  # seat-map order
    assert [(t["section"], t["row"], t["number"]) for t in listed] == [
        ("A", "000", 1),
        ("A", "000", 2),
    ]
    for ticket in listed:
        assert ticket["valid"] is True
        assert signer(services).read(ticket["token"]) == TicketClaims(
            booking["id"], ticket["seatId"], event.id
        )
        svg = ticket["qrSvg"]
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        label = f"QR code: ticket for A row 000 seat {ticket['number']}"
        assert f'role="img" aria-label="{label}"' in svg and f"<title>{label}</title>" in svg
    assert listed[0]["token"] != listed[1]["token"]
    mine = data_of(await gql(MY_TICKETS, None, buyer))["myBookings"]
    assert [[t["token"] for t in b["tickets"]] for b in mine] == [[t["token"] for t in listed]]


async def test_first_scan_admits_and_the_next_says_when(
    gql: Any, sale: dict[str, Any], services: Services
) -> None:
    event, organizer, ticket = sale["event"], sale["organizer"], sale["tickets"][1]
    first = await check_in(gql, organizer, event.id, ticket["token"])
    assert first["status"] == "ADMITTED" and first["checkedInAt"]
    assert (first["seatId"], first["section"], first["row"], first["number"]) == (
        event.seat_ids[1],
        "A",
        "000",
        2,
    )
    assert first["eventId"] == event.id and first["bookingReference"] == sale["reference"]
    again = await check_in(gql, organizer, event.id, ticket["token"])
    assert again["status"] == "ALREADY_CHECKED_IN"
    assert again["checkedInAt"] == first["checkedInAt"] and again["seatId"] == event.seat_ids[1]
    # The booking's other ticket is its own: still admitted once.
    other = await check_in(gql, organizer, event.id, sale["tickets"][0]["token"])
    assert other["status"] == "ADMITTED"
    report = data_of(await gql(REPORT, {"e": event.id}, organizer))["salesReport"]
    assert report == {"sold": 2, "checkedIn": 2}


def _with_seat(token: str, seat_token: str) -> str:
    """``token`` with the seat claim of ``seat_token``: a real signature over other claims."""
    header, payload, signature = token.split(".")
    other = json.loads(base64.urlsafe_b64decode(seat_token.split(".")[1] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["s"] = other["s"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_forged_tokens_are_invalid(gql: Any, sale: dict[str, Any]) -> None:
    event, organizer = sale["event"], sale["organizer"]
    first, second = (t["token"] for t in sale["tickets"])
    for token in (_with_seat(first, second), "garbage", first[:-3], organizer.token):
        result = await check_in(gql, organizer, event.id, token)
        assert result["status"] == "INVALID", token
        assert result["seatId"] is None and result["checkedInAt"] is None


async def test_a_ticket_for_another_event_is_invalid_at_this_door(
    gql: Any, sale: dict[str, Any], event_factory: Any, engine: Engine
) -> None:
    organizer = sale["organizer"]
    other = event_factory(seats=2)
    organized_by(engine, other.id, organizer.id)  # the same organizer runs both doors
    result = await check_in(gql, organizer, other.id, sale["tickets"][0]["token"])
    assert result["status"] == "INVALID" and "another event" in result["message"]
    assert result["eventId"] == other.id
    # Still good at its own door.
    own = await check_in(gql, organizer, sale["event"].id, sale["tickets"][0]["token"])
    assert own["status"] == "ADMITTED"


async def test_a_refunded_booking_s_tickets_stop_working(gql: Any, sale: dict[str, Any]) -> None:
    event, organizer, buyer = sale["event"], sale["organizer"], sale["buyer"]
    admitted = await check_in(gql, organizer, event.id, sale["tickets"][0]["token"])
    assert admitted["status"] == "ADMITTED"
    refunded = data_of(await gql(CANCEL_BOOKING, {"r": sale["reference"]}, buyer))
    assert refunded["cancelBooking"]["booking"]["status"] == "REFUNDED"
    listed = await tickets(gql, buyer, sale["reference"])
    assert [t["valid"] for t in listed] == [False, False]
    for ticket in sale["tickets"]:
        result = await check_in(gql, organizer, event.id, ticket["token"])
        assert result["status"] == "INVALID" and "refunded" in result["message"]


async def test_concurrent_scans_of_one_ticket_admit_exactly_once(
    gql: Any, sale: dict[str, Any], engine: Engine
) -> None:
    event, organizer, token = sale["event"], sale["organizer"], sale["tickets"][0]["token"]
    results = await asyncio.gather(*(check_in(gql, organizer, event.id, token) for _ in range(20)))
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["ADMITTED"] + ["ALREADY_CHECKED_IN"] * 19
    assert len({r["checkedInAt"] for r in results}) == 1  # every answer names the one scan
    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event.id)
        ).scalar_one()
    assert rows == 1


async def test_who_may_check_in(
    gql: Any, sale: dict[str, Any], make_buyer: Any, make_organizer: Any, make_admin: Any
) -> None:
    event, token = sale["event"], sale["tickets"][0]["token"]
    variables = {"e": event.id, "t": token}
    assert error_codes(await gql(CHECK_IN, variables)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(CHECK_IN, variables, sale["buyer"])) == ["FORBIDDEN"]
    assert error_codes(await gql(CHECK_IN, variables, make_organizer())) == ["FORBIDDEN"]
    assert error_codes(await gql(CHECK_IN, {**variables, "e": "nope"}, sale["organizer"])) == [
        "BAD_USER_INPUT"
    ]
    assert (await check_in(gql, make_admin(), event.id, token))["status"] == "ADMITTED"


async def test_staff_named_by_the_organizer_can_check_in_until_removed(
    gql: Any, sale: dict[str, Any], make_buyer: Any, make_organizer: Any
) -> None:
    event, organizer = sale["event"], sale["organizer"]
    staff, stranger = make_buyer(), make_buyer()
    first, second = (t["token"] for t in sale["tickets"])
    assert error_codes(await gql(CHECK_IN, {"e": event.id, "t": first}, staff)) == ["FORBIDDEN"]

    # Only the event's organizer names staff, and only registered users.
    refused = data_of(await gql(ADD_STAFF, {"e": event.id, "m": staff.email}, stranger))
    assert refused["addEventStaff"]["failureReason"] == "FORBIDDEN"
    other = data_of(await gql(ADD_STAFF, {"e": event.id, "m": staff.email}, make_organizer()))
    assert other["addEventStaff"]["failureReason"] == "FORBIDDEN"
    unknown = data_of(await gql(ADD_STAFF, {"e": event.id, "m": "nobody@example.com"}, organizer))
    assert unknown["addEventStaff"]["failureReason"] == "NOT_FOUND"

    for _ in range(2):  # idempotent
        added = data_of(await gql(ADD_STAFF, {"e": event.id, "m": staff.email.upper()}, organizer))
        assert added["addEventStaff"] == {
            "success": True,
            "failureReason": None,
            "event": {"id": event.id},
        }
    listed = data_of(await gql(STAFF, {"e": event.id}, organizer))["eventStaff"]
    assert listed == [{"email": staff.email}]
    assert error_codes(await gql(STAFF, {"e": event.id}, staff)) == ["FORBIDDEN"]

    assert (await check_in(gql, staff, event.id, first))["status"] == "ADMITTED"
    removed = data_of(await gql(REMOVE_STAFF, {"e": event.id, "m": staff.email}, organizer))
    assert removed["removeEventStaff"]["success"] is True
    assert data_of(await gql(STAFF, {"e": event.id}, organizer))["eventStaff"] == []
    assert error_codes(await gql(CHECK_IN, {"e": event.id, "t": second}, staff)) == ["FORBIDDEN"]
