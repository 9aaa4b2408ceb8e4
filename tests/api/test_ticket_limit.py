"""The hold path's rules: the per-buyer ticket limit across checkouts and under concurrent
holds, one open checkout per buyer per event, and blocked seats (against the real saga)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.services import Services
from tests.api.conftest import data_of

pytestmark = pytest.mark.usefixtures("api_worker")

PAYLOAD = "success message failureReason takenSeatIds openCheckoutId checkout { id status seatIds }"
START = f"""mutation($e: ID!, $s: [ID!]!) {{
  startCheckout(eventId: $e, seatIds: $s) {{ {PAYLOAD} }} }}"""
HOLD = f"""mutation($c: ID!, $s: [ID!]!) {{
  holdSeats(checkoutId: $c, seatIds: $s) {{ {PAYLOAD} }} }}"""
PAY = f"mutation($c: ID!) {{ submitPayment(checkoutId: $c) {{ {PAYLOAD} }} }}"
CANCEL = f"mutation($c: ID!) {{ cancelCheckout(checkoutId: $c) {{ {PAYLOAD} }} }}"
LOCK = """mutation($s: ID!, $e: ID!, $u: ID!) {
  lockSeat(seatId: $s, eventId: $e, userId: $u) { success message failureReason lockId } }"""


def set_limit(engine: Engine, event_id: str, limit: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET max_tickets_per_buyer = :n WHERE id = :e"),
            {"n": limit, "e": event_id},
        )


def booked_seats(engine: Engine, event_id: str, user_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id"
                " WHERE b.event_id = :e AND b.user_id = :u AND b.status = 'CONFIRMED'"
            ),
            {"e": event_id, "u": user_id},
        ).scalar_one()


def held_seats(services: Services, event_id: str, user_id: str) -> list[str]:
    """The buyer's seats under a live DynamoDB lock: the authority on what is held."""
    return sorted(
        lock.seat_id for lock in services.seat_locks.live_locks(event_id) if lock.user_id == user_id
    )


async def start(gql: Any, buyer: Any, event_id: str, seats: list[str]) -> dict[str, Any]:
    return data_of(await gql(START, {"e": event_id, "s": seats}, buyer))["startCheckout"]


async def buy(gql: Any, buyer: Any, event_id: str, seats: list[str]) -> None:
    started = await start(gql, buyer, event_id, seats)
    assert started["success"], started
    paid = data_of(await gql(PAY, {"c": started["checkout"]["id"]}, buyer))["submitPayment"]
    assert paid["checkout"]["status"] == "CONFIRMED", paid


async def test_the_limit_counts_booked_and_held_seats_across_checkouts(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine, services: Services
) -> None:
    event = event_factory(seats=6)
    set_limit(engine, event.id, 3)
    buyer = make_buyer()
    await buy(gql, buyer, event.id, event.seat_ids[:2])

    refused = await start(gql, buyer, event.id, event.seat_ids[2:4])
    assert refused["success"] is False
    assert refused["failureReason"] == "TICKET_LIMIT_REACHED"
    assert "at most 3 ticket(s)" in refused["message"]
    assert "you have 2 (2 booked, 0 held)" in refused["message"]
    assert refused["checkout"] is None
    assert held_seats(services, event.id, buyer.id) == []

    # One more fits; the next one, in the same checkout, does not.
    started = await start(gql, buyer, event.id, event.seat_ids[2:3])
    assert started["success"], started
    checkout_id = started["checkout"]["id"]
    more = data_of(await gql(HOLD, {"c": checkout_id, "s": event.seat_ids[3:4]}, buyer))
    more = more["holdSeats"]
    assert more["success"] is False and more["failureReason"] == "TICKET_LIMIT_REACHED"
    assert "you have 3 (2 booked, 1 held)" in more["message"]
    assert more["checkout"]["status"] == "HELD"
    assert more["checkout"]["seatIds"] == event.seat_ids[2:3]
    assert held_seats(services, event.id, buyer.id) == event.seat_ids[2:3]
    # The limit is the buyer's: another buyer holds the refused seat at once.
    assert (await start(gql, make_buyer(), event.id, event.seat_ids[3:4]))["success"]


async def test_a_second_open_checkout_of_one_buyer_is_refused(
    gql: Any, make_buyer: Any, event_factory: Any, services: Services
) -> None:
    event = event_factory(seats=4)
    buyer = make_buyer()
    first = await start(gql, buyer, event.id, event.seat_ids[:1])
    assert first["success"], first
    first_id = first["checkout"]["id"]

    second = await start(gql, buyer, event.id, event.seat_ids[1:2])
    assert second["success"] is False
    assert second["failureReason"] == "CHECKOUT_ALREADY_OPEN"
    assert first_id in second["message"]
    assert second["openCheckoutId"] == first_id
    assert second["checkout"] is None
    # Nothing held for the refused one: not its lock, not its claim (another buyer gets it).
    assert held_seats(services, event.id, buyer.id) == event.seat_ids[:1]
    assert (await start(gql, make_buyer(), event.id, event.seat_ids[1:2]))["success"]

    # Once the open checkout ended, the buyer may open another.
    cancelled = data_of(await gql(CANCEL, {"c": first_id}, buyer))["cancelCheckout"]
    assert cancelled["checkout"]["status"] == "CANCELLED"
    again = await start(gql, buyer, event.id, event.seat_ids[2:3])
    assert again["success"] is True, again
    assert again["checkout"]["id"] != first_id


async def test_a_refused_first_hold_leaves_no_open_checkout_behind(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine
) -> None:
    event = event_factory(seats=3)
    set_limit(engine, event.id, 1)
    buyer = make_buyer()
    refused = await start(gql, buyer, event.id, event.seat_ids[:2])
    assert refused["failureReason"] == "TICKET_LIMIT_REACHED"
    # At once, without waiting for the refused checkout's workflow to end.
    assert (await start(gql, buyer, event.id, event.seat_ids[:1]))["success"]


async def test_a_blocked_seat_is_refused_as_not_for_sale(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine, services: Services
) -> None:
    event = event_factory(seats=3)
    blocked = event.seat_ids[1]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE event_seats SET status = 'BLOCKED', block_reason = 'house seat'"
                " WHERE event_id = :e AND seat_id = :s"
            ),
            {"e": event.id, "s": blocked},
        )
    services.seatmap_events.changed(event.id, [blocked], "blocked")
    buyer = make_buyer()

    refused = await start(gql, buyer, event.id, event.seat_ids[:2])
    assert refused["success"] is False
    assert refused["failureReason"] == "SEATS_UNAVAILABLE"
    assert refused["takenSeatIds"] == [blocked]
    assert f"seat(s) not for sale: {blocked}" in refused["message"]
    assert "booked" not in refused["message"]
    assert held_seats(services, event.id, buyer.id) == []
    locked = data_of(await gql(LOCK, {"s": blocked, "e": event.id, "u": buyer.id}, buyer))
    assert locked["lockSeat"]["success"] is False
    assert "not for sale" in locked["lockSeat"]["message"]
    assert (await start(gql, buyer, event.id, [event.seat_ids[0]]))["success"]


async def test_the_limit_holds_under_twenty_concurrent_holds_of_one_buyer(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine, services: Services
) -> None:
    limit = 4
    event = event_factory(seats=30)
    set_limit(engine, event.id, limit)
    buyer = make_buyer()
    await buy(gql, buyer, event.id, event.seat_ids[:1])
    opened = await start(gql, buyer, event.id, event.seat_ids[1:2])
    assert opened["success"], opened
    checkout_id = opened["checkout"]["id"]
    seats = event.seat_ids[2:22]

    async def one(i: int, seat: str) -> tuple[str, dict[str, Any]]:
        # Every way a buyer can add seats: the open checkout, the seed's lockSeat (which
        # joins it), and new checkouts (refused while one is open).
        if i % 3 == 0:
            reply = await gql(HOLD, {"c": checkout_id, "s": [seat]}, buyer)
            return "holdSeats", data_of(reply)["holdSeats"]
        if i % 3 == 1:
            reply = await gql(LOCK, {"s": seat, "e": event.id, "u": buyer.id}, buyer)
            return "lockSeat", data_of(reply)["lockSeat"]
        return "startCheckout", await start(gql, buyer, event.id, [seat])

    results = await asyncio.gather(*(one(i, seat) for i, seat in enumerate(seats)))

    held = held_seats(services, event.id, buyer.id)
    booked = booked_seats(engine, event.id, buyer.id)
    state = await (await services.checkouts()).state(checkout_id)
    assert booked == 1
    assert len(held) + booked == limit, (held, results)
    # DynamoDB's locks are the workflow's hold: no lock outlived a refusal.
    assert held == sorted(state.seat_ids)
    granted = [r for _, r in results if r["success"]]
    assert len(granted) == limit - 2
    reasons = {r["failureReason"] for _, r in results if not r["success"]}
    assert reasons <= {"TICKET_LIMIT_REACHED", "CHECKOUT_ALREADY_OPEN"}, results
    assert "TICKET_LIMIT_REACHED" in reasons
    assert {r["failureReason"] for kind, r in results if kind == "startCheckout"} == {
        "CHECKOUT_ALREADY_OPEN"
    }
    # Every held seat is in the one open checkout.
    assert {lock.lock_id for lock in services.seat_locks.live_locks(event.id)} == {checkout_id}
