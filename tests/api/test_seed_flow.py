"""The seed's operations and its "Complete Booking Flow", unchanged, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import Engine

from tests.api.conftest import error_codes
from tests.api.factory import row_counts
from tests.api.seed_operations import CREATE_BOOKING, GET_AVAILABLE_SEATS, GET_EVENTS, LOCK_SEAT

pytestmark = __import__("pytest").mark.usefixtures("api_worker")


async def post(http: httpx.AsyncClient, query: str, variables: dict[str, Any], buyer: Any = None):
    headers = buyer.headers if buyer else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_complete_booking_flow_verbatim(
    http: httpx.AsyncClient, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    buyer, rival = make_buyer(), make_buyer()

    events = (await post(http, GET_EVENTS, {"limit": 100, "status": "ON_SALE"}))["data"]["events"]
    listed = next(e for e in events if e["id"] == event.id)
    assert listed["availableSeats"] == 3 and listed["canPurchaseTickets"] is True
    assert listed["venue"] == {"name": listed["venue"]["name"], "address": "1 Test Street"}

    # 1. Get available seats
    seats = (await post(http, GET_AVAILABLE_SEATS, {"eventId": event.id}))["data"]
    seat_id = seats["availableSeats"][1]["id"]

    # 2. Lock selected seat
    lock = (
        await post(
            http, LOCK_SEAT, {"seatId": seat_id, "eventId": event.id, "userId": buyer.id}, buyer
        )
    )["data"]["lockSeat"]
    assert lock["success"] is True, lock
    assert lock["lockId"] and lock["expiresAt"]

    # 3. Create booking (if lock successful)
    booking = (
        await post(
            http,
            CREATE_BOOKING,
            {
                "input": {"eventId": event.id, "seatIds": [seat_id], "lockIds": [lock["lockId"]]},
                "userId": buyer.id,
            },
            buyer,
        )
    )["data"]["createBooking"]
    assert booking["success"] is True, booking
    assert booking["booking"]["status"] == "CONFIRMED"
    assert booking["booking"]["bookingReference"]
    assert booking["booking"]["totalPrice"] == "50.00"

    # The seat is gone from the seat map (the worker's invalidation, not a wait).
    remaining = (await post(http, GET_AVAILABLE_SEATS, {"eventId": event.id}))["data"]
    assert seat_id not in {s["id"] for s in remaining["availableSeats"]}
    assert len(remaining["availableSeats"]) == 2

    # A second buyer is refused the booked seat.
    refused = (
        await post(
            http, LOCK_SEAT, {"seatId": seat_id, "eventId": event.id, "userId": rival.id}, rival
        )
    )["data"]["lockSeat"]
    assert refused["success"] is False and seat_id in refused["message"]


async def test_several_locks_then_one_booking(
    http: httpx.AsyncClient, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=4)
    buyer = make_buyer()
    chosen = event.seat_ids[:3]
    lock_ids = []
    for seat_id in chosen:
        lock = (
            await post(
                http, LOCK_SEAT, {"seatId": seat_id, "eventId": event.id, "userId": buyer.id}, buyer
            )
        )["data"]["lockSeat"]
        assert lock["success"], lock
        lock_ids.append(lock["lockId"])
    assert len(set(lock_ids)) == 1  # one open checkout holds all three

    # seatIds that differ from the hold are refused and change nothing
    partial = (
        await post(
            http,
            CREATE_BOOKING,
            {
                "input": {"eventId": event.id, "seatIds": chosen[:2], "lockIds": lock_ids[:2]},
                "userId": buyer.id,
            },
            buyer,
        )
    )["data"]["createBooking"]
    assert partial == {
        "success": False,
        "booking": None,
        "message": partial["message"],
        "failureReason": "LOCK_INVALID",
    }

    done = (
        await post(
            http,
            CREATE_BOOKING,
            {
                "input": {"eventId": event.id, "seatIds": chosen, "lockIds": lock_ids},
                "userId": buyer.id,
            },
            buyer,
        )
    )["data"]["createBooking"]
    assert done["success"] is True, done
    assert done["booking"]["totalPrice"] == "175.00"  # 75 (VIP x1.5) + 50 + 50

    # The next lockSeat opens a fresh checkout (the paid one is closed).
    again = (
        await post(
            http,
            LOCK_SEAT,
            {"seatId": event.seat_ids[3], "eventId": event.id, "userId": buyer.id},
            buyer,
        )
    )["data"]["lockSeat"]
    assert again["success"] is True and again["lockId"] != lock_ids[0]


async def test_impersonation_and_missing_token_are_refused(
    http: httpx.AsyncClient, make_buyer: Any, event_factory: Any, engine: Engine, services: Any
) -> None:
    event = event_factory(seats=1)
    victim, attacker = make_buyer(), make_buyer()
    variables = {"seatId": event.seat_ids[0], "eventId": event.id, "userId": victim.id}
    before = row_counts(engine)
    assert error_codes(await post(http, LOCK_SEAT, variables, attacker)) == ["FORBIDDEN"]
    assert error_codes(await post(http, LOCK_SEAT, variables)) == ["UNAUTHENTICATED"]
    booking_vars = {
        "input": {"eventId": event.id, "seatIds": event.seat_ids, "lockIds": [event.id]},
        "userId": victim.id,
    }
    assert error_codes(await post(http, CREATE_BOOKING, booking_vars, attacker)) == ["FORBIDDEN"]
    assert error_codes(await post(http, CREATE_BOOKING, booking_vars)) == ["UNAUTHENTICATED"]
    assert row_counts(engine) == before
    # nothing was held, and no checkout was opened for anyone
    assert services.seat_locks.live_locks(event.id) == []
    assert services.open_checkouts.current(victim.id, event.id) is None
    assert services.open_checkouts.current(attacker.id, event.id) is None


async def test_forty_buyers_race_for_one_seat(
    http: httpx.AsyncClient, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    seat_id = event.seat_ids[0]
    buyers = [make_buyer() for _ in range(40)]

    async def attempt(buyer: Any) -> dict[str, Any]:
        variables = {"seatId": seat_id, "eventId": event.id, "userId": buyer.id}
        return (await post(http, LOCK_SEAT, variables, buyer))["data"]["lockSeat"]

    results = await asyncio.gather(*(attempt(b) for b in buyers))
    winners = [r for r in results if r["success"]]
    assert len(winners) == 1, results
    assert all(seat_id in r["message"] for r in results if not r["success"])


async def test_a_held_seat_is_refused_without_starting_a_checkout(
    http: httpx.AsyncClient, make_buyer: Any, event_factory: Any, services: Any
) -> None:
    event = event_factory(seats=2)
    seat_id = event.seat_ids[0]
    holder, latecomer = make_buyer(), make_buyer()
    variables = {"seatId": seat_id, "eventId": event.id, "userId": holder.id}
    assert (await post(http, LOCK_SEAT, variables, holder))["data"]["lockSeat"]["success"]

    variables["userId"] = latecomer.id
    refused = (await post(http, LOCK_SEAT, variables, latecomer))["data"]["lockSeat"]

    assert not refused["success"] and seat_id in refused["message"]
    # refused from the lock table alone: no checkout (workflow) was opened for the latecomer
    assert services.open_checkouts.current(latecomer.id, event.id) is None
    # the holder may add to its own hold: its own lock is not "taken"
    variables["userId"] = holder.id
    again = (await post(http, LOCK_SEAT, variables, holder))["data"]["lockSeat"]
    assert again["success"]
