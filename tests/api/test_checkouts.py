"""The checkout operations, owner-only reads, bookings, cancellation with refund."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine, text

from adapters.payments import TOKEN_APPROVE, TOKEN_DECLINE
from api.admission import HoldAdmission
from tests.api.conftest import data_of, error_codes
from tests.api.factory import row_counts

pytestmark = pytest.mark.usefixtures("api_worker")

CHECKOUT_FIELDS = "id eventId status seatIds expiresAt extensionsUsed amount bookingReference"
PAYLOAD = f"success message failureReason takenSeatIds checkout {{ {CHECKOUT_FIELDS} }}"
START = f"""mutation($e: ID!, $s: [ID!]!) {{
  startCheckout(eventId: $e, seatIds: $s) {{ {PAYLOAD} }} }}"""
HOLD = f"""mutation($c: ID!, $s: [ID!]!) {{
  holdSeats(checkoutId: $c, seatIds: $s) {{ {PAYLOAD} }} }}"""
PAY = f"""mutation($c: ID!, $t: String) {{
  submitPayment(checkoutId: $c, paymentToken: $t) {{ {PAYLOAD} }} }}"""
EXTEND = f"mutation($c: ID!) {{ extendHold(checkoutId: $c) {{ {PAYLOAD} }} }}"
CANCEL = f"mutation($c: ID!) {{ cancelCheckout(checkoutId: $c) {{ {PAYLOAD} }} }}"
GET = f"query($id: ID!) {{ checkout(id: $id) {{ {CHECKOUT_FIELDS} history }} }}"
MY_BOOKINGS = "{ myBookings { bookingReference status totalPrice seatIds } }"
BOOKING = "query($r: String!) { booking(reference: $r) { bookingReference status eventId } }"
CANCEL_BOOKING = """mutation($r: String!) {
  cancelBooking(reference: $r) { success failureReason booking { status } } }"""
SEATS = "query($e: ID!) { availableSeats(eventId: $e) { id } }"


async def test_start_hold_extend_pay_and_refund(
    gql: Any, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    event = event_factory(seats=3)
    buyer, other = make_buyer(), make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, buyer))
    payload = started["startCheckout"]
    assert payload["success"] is True and payload["checkout"]["status"] == "HELD"
    checkout_id = payload["checkout"]["id"]

    held = data_of(await gql(HOLD, {"c": checkout_id, "s": event.seat_ids[1:2]}, buyer))
    assert sorted(held["holdSeats"]["checkout"]["seatIds"]) == sorted(event.seat_ids[:2])

    extended = data_of(await gql(EXTEND, {"c": checkout_id}, buyer))["extendHold"]
    assert extended["success"] and extended["checkout"]["extensionsUsed"] == 1

    # Only the owner sees or drives the checkout.
    assert error_codes(await gql(GET, {"id": checkout_id}, other)) == ["NOT_FOUND"]
    assert error_codes(await gql(PAY, {"c": checkout_id}, other)) == ["NOT_FOUND"]
    assert error_codes(await gql(GET, {"id": checkout_id})) == ["UNAUTHENTICATED"]

    paid = data_of(await gql(PAY, {"c": checkout_id}, buyer))["submitPayment"]
    assert paid["success"] is True and paid["checkout"]["status"] == "CONFIRMED"
    assert paid["checkout"]["amount"] == "125.00"
    reference = paid["checkout"]["bookingReference"]
    # Paying again: the owner is told the checkout is closed, a stranger that it does not exist.
    again = data_of(await gql(PAY, {"c": checkout_id}, buyer))["submitPayment"]
    assert again["success"] is False and again["failureReason"] == "CHECKOUT_CLOSED"
    assert again["checkout"]["status"] == "CONFIRMED"
    assert error_codes(await gql(PAY, {"c": checkout_id}, other)) == ["NOT_FOUND"]
    history = data_of(await gql(GET, {"id": checkout_id}, buyer))["checkout"]["history"]
    assert history[-1] == "CONFIRMED" and "AUTHORIZING" in history

    mine = data_of(await gql(MY_BOOKINGS, None, buyer))["myBookings"]
    assert [b["bookingReference"] for b in mine] == [reference]
    assert data_of(await gql(BOOKING, {"r": reference}, buyer))["booking"]["status"] == "CONFIRMED"
    assert error_codes(await gql(BOOKING, {"r": reference}, other)) == ["NOT_FOUND"]
    assert error_codes(await gql(CANCEL_BOOKING, {"r": reference}, other)) == ["NOT_FOUND"]

    seats_before = {s["id"] for s in data_of(await gql(SEATS, {"e": event.id}))["availableSeats"]}
    assert seats_before == {event.seat_ids[2]}
    cancelled = data_of(await gql(CANCEL_BOOKING, {"r": reference}, buyer))["cancelBooking"]
    assert cancelled == {"success": True, "failureReason": None, "booking": {"status": "REFUNDED"}}
    booking = services.bookings.get_by_reference(reference)
    assert services.payments.get(booking.payment_intent_id).status == "REFUNDED"
    seats_after = {s["id"] for s in data_of(await gql(SEATS, {"e": event.id}))["availableSeats"]}
    assert seats_after == set(event.seat_ids)
    again = data_of(await gql(CANCEL_BOOKING, {"r": reference}, buyer))["cancelBooking"]
    assert again["success"] is True  # idempotent


async def test_declined_payment_and_cancel(gql: Any, make_buyer: Any, event_factory: Any) -> None:
    event = event_factory(seats=2)
    buyer = make_buyer()
    first = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, buyer))
    declined = data_of(
        await gql(PAY, {"c": first["startCheckout"]["checkout"]["id"], "t": TOKEN_DECLINE}, buyer)
    )["submitPayment"]
    assert declined["success"] is False and declined["failureReason"] == "PAYMENT_DECLINED"

    second = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[1:]}, buyer))
    checkout_id = second["startCheckout"]["checkout"]["id"]
    cancelled = data_of(await gql(CANCEL, {"c": checkout_id}, buyer))["cancelCheckout"]
    assert cancelled["checkout"]["status"] == "CANCELLED"
    seats = {s["id"] for s in data_of(await gql(SEATS, {"e": event.id}))["availableSeats"]}
    assert seats == set(event.seat_ids)  # both holds released, visible at once
    late = data_of(await gql(HOLD, {"c": checkout_id, "s": event.seat_ids[:1]}, buyer))
    assert late["holdSeats"]["failureReason"] == "CHECKOUT_CLOSED"


async def test_taken_seats_are_named_and_the_refusal_locks_nothing(
    gql: Any, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    event = event_factory(seats=2)
    first, second = make_buyer(), make_buyer()
    data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, first))
    locks_before = services.seat_locks.live_locks(event.id)
    refused = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, second))
    payload = refused["startCheckout"]
    assert payload["success"] is False and payload["takenSeatIds"] == event.seat_ids[:1]
    assert payload["failureReason"] == "SEATS_UNAVAILABLE"
    assert event.seat_ids[0] in payload["message"]
    assert services.seat_locks.live_locks(event.id) == locks_before


async def test_a_hold_kept_waiting_for_its_turn_is_told_to_try_again_and_changes_nothing(
    gql: Any,
    make_buyer: Any,
    event_factory: Any,
    services: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = event_factory(seats=2)
    waiting, next_buyer = make_buyer(), make_buyer()
    monkeypatch.setattr(services, "hold_admission", HoldAdmission(limit=1, max_wait_seconds=0.2))
    release = asyncio.Event()

    async def occupy_the_only_slot() -> None:
        async with services.hold_admission.slot():
            await release.wait()

    occupant = asyncio.create_task(occupy_the_only_slot())
    await asyncio.sleep(0)
    before = row_counts(engine)
    refused = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, waiting))
    payload = refused["startCheckout"]
    assert payload["success"] is False and payload["failureReason"] == "TRY_AGAIN"
    assert payload["checkout"] is None and payload["takenSeatIds"] == []
    assert row_counts(engine) == before
    assert services.seat_locks.live_locks(event.id) == []

    release.set()
    await occupant
    # Its claims were dropped: another buyer gets the same seats at once.
    taken = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, next_buyer))
    assert taken["startCheckout"]["success"] is True


BAD_INPUTS = [
    (START, {"e": "nope", "s": []}, "BAD_USER_INPUT"),
    (START, {"e": "{event}", "s": ["not-a-uuid"]}, "BAD_USER_INPUT"),
    (START, {"e": "{event}", "s": ["{seat}", "{seat}"]}, "BAD_USER_INPUT"),
    (START, {"e": "{event}", "s": []}, "BAD_USER_INPUT"),
    (START, {"e": "{event}", "s": "{many}"}, "BAD_USER_INPUT"),
    (START, {"e": "{event}", "s": [123]}, "BAD_USER_INPUT"),
    (START, {"e": "{unknown}", "s": ["{seat}"]}, "NOT_FOUND"),
    (START, {"e": "{event}", "s": ["{unknown}"]}, "NOT_FOUND"),
    (HOLD, {"c": "x", "s": ["{seat}"]}, "BAD_USER_INPUT"),
    (HOLD, {"c": "{unknown}", "s": ["{seat}"]}, "NOT_FOUND"),
    (PAY, {"c": "{unknown}", "t": "tok_visa"}, "NOT_FOUND"),
    (PAY, {"c": "{unknown}", "t": "bad token!"}, "BAD_USER_INPUT"),
    (EXTEND, {"c": "{unknown}"}, "NOT_FOUND"),
    (CANCEL, {"c": "12"}, "BAD_USER_INPUT"),
    (GET, {"id": "{unknown}"}, "NOT_FOUND"),
    (BOOKING, {"r": "X" * 40}, "BAD_USER_INPUT"),
    (BOOKING, {"r": "NOPE1234"}, "NOT_FOUND"),
    (CANCEL_BOOKING, {"r": "NOPE1234"}, "NOT_FOUND"),
    ("mutation { startCheckout(eventId: 1) { success } }", {}, "BAD_USER_INPUT"),
    ('{ events(limit: "ten") { id } }', {}, "BAD_USER_INPUT"),
]


async def test_a_card_token_the_processor_does_not_know_is_bad_input_and_fails_nothing(
    gql: Any, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=1)
    buyer = make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, buyer))
    checkout_id = started["startCheckout"]["checkout"]["id"]

    refused = await gql(PAY, {"c": checkout_id, "t": "tok_approve"}, buyer)  # not a test card

    assert error_codes(refused) == ["BAD_USER_INPUT"], refused
    held = data_of(await gql(GET, {"id": checkout_id}, buyer))["checkout"]
    assert held["status"] == "HELD"  # the buyer may still pay with a card that exists
    paid = data_of(await gql(PAY, {"c": checkout_id, "t": TOKEN_APPROVE}, buyer))
    assert paid["submitPayment"]["checkout"]["status"] == "CONFIRMED", paid


async def test_every_bad_input_gets_its_code_and_changes_nothing(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine, services: Any
) -> None:
    event = event_factory(seats=2)
    buyer = make_buyer()
    unknown = "00000000-0000-4000-8000-00000000dead"
    fill = {"{event}": event.id, "{seat}": event.seat_ids[0], "{unknown}": unknown}
    before = row_counts(engine)
    for query, variables, code in BAD_INPUTS:
        resolved: dict[str, Any] = {}
        for key, value in variables.items():
            if value == "{many}":
                resolved[key] = [str(__import__("uuid").uuid4()) for _ in range(11)]
            elif isinstance(value, list):
                resolved[key] = [fill.get(v, v) if isinstance(v, str) else v for v in value]
            else:
                resolved[key] = fill.get(value, value)
        result = await gql(query, resolved, buyer)
        assert error_codes(result) == [code], (query, resolved, result)
        assert "Traceback" not in str(result)
    assert row_counts(engine) == before
    assert services.seat_locks.live_locks(event.id) == []


async def test_the_checkout_state_is_queried_only_when_asked_for(
    gql: Any, make_buyer: Any, event_factory: Any, services: Any, monkeypatch: Any
) -> None:
    client = await services.checkouts()
    real_state = client.state
    queries: list[str] = []

    async def counting_state(checkout_id: str) -> Any:
        queries.append(checkout_id)
        return await real_state(checkout_id)

    monkeypatch.setattr(client, "state", counting_state)
    event = event_factory(seats=2)
    buyer = make_buyer()
    only_id = """mutation($e: ID!, $s: [ID!]!) {
      startCheckout(eventId: $e, seatIds: $s) { success checkout { id } } }"""
    first = data_of(await gql(only_id, {"e": event.id, "s": event.seat_ids[:1]}, buyer))
    assert first["startCheckout"]["success"] and first["startCheckout"]["checkout"]["id"]
    assert queries == []

    # Another buyer: one buyer has one open checkout per event.
    second = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[1:]}, make_buyer()))
    assert second["startCheckout"]["checkout"]["status"] == "HELD"
    assert queries == [second["startCheckout"]["checkout"]["id"]]  # one query for all fields


async def test_a_booking_is_not_refunded_once_its_event_took_place(
    gql: Any, make_buyer: Any, event_factory: Any, services: Any, engine: Engine
) -> None:
    event = event_factory(seats=1)
    buyer = make_buyer()
    started = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, buyer))
    checkout_id = started["startCheckout"]["checkout"]["id"]
    paid = data_of(await gql(PAY, {"c": checkout_id}, buyer))["submitPayment"]
    reference = paid["checkout"]["bookingReference"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE events SET status = 'COMPLETED', event_date = now() - interval '1 day'"
                " WHERE id = :e"
            ),
            {"e": event.id},
        )
    refused = data_of(await gql(CANCEL_BOOKING, {"r": reference}, buyer))["cancelBooking"]
    assert refused == {
        "success": False,
        "failureReason": "EVENT_ALREADY_TOOK_PLACE",
        "booking": {"status": "CONFIRMED"},
    }
    booking = services.bookings.get_by_reference(reference)
    assert booking.status == "CONFIRMED"
    assert services.payments.get(booking.payment_intent_id).status == "CAPTURED"
