"""A first hold adopts the API's reservation: the hold step does not run, the saga keeps the
reservation's expiry and prices, and the rest of the saga is unchanged. A reservation that is
not enough to adopt (near its expiry, or not covering the seats) goes through the hold step.

The recorded history of an adopted hold (``adopted_confirmed*.json``) is replayed by
``tests/unit/test_replay.py``; re-record it with ``RECORD_HISTORIES=1``.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from adapters.checkout_client import CheckoutClient
from adapters.payments import TOKEN_APPROVE
from tests.e2e.conftest import Backends
from tests.e2e.test_checkout_saga import assert_no_violations, history_events, record
from tests.factories import EventFixture, create_user, create_venue_event
from workflows.checkout import ADOPT_RESERVATION
from workflows.contract import Reservation


@pytest.fixture
def event(engine: Engine) -> EventFixture:
    return create_venue_event(engine, n_seats=6, base_price=Decimal("30.00"))


def reserve(
    backends: Backends, engine: Engine, event: EventFixture, seats: list[str]
) -> tuple[str, str, Reservation]:
    """A buyer, a checkout id, and what the API does before it asks the saga: lock the seats
    under the checkout's id."""
    user, checkout_id = create_user(engine), str(uuid.uuid4())
    reserved = backends.locks.acquire(event.event_id, seats, checkout_id, user, 60)
    assert reserved.acquired
    quote = backends.catalog.quote(event.event_id, seats)
    prices = {seat.seat_id: str(seat.price) for seat in quote.seats}
    return user, checkout_id, Reservation(reserved.expires_at, prices, quote.currency)


def hold_step_ran(backends: Backends, event: EventFixture) -> bool:
    """The hold step announces the seats it holds to the seat map; nothing else says "held"
    in these tests (the API's own announcement is not made here)."""
    return any(
        kind == "held" and event_id == event.event_id
        for event_id, _, kind in backends.seat_map.calls
    )


async def patches(client: Client, checkout_id: str) -> list[str]:
    markers = [
        event.marker_recorded_event_attributes
        for event in await history_events(client, checkout_id)
        if event.HasField("marker_recorded_event_attributes")
    ]
    return [
        json.loads(marker.details["patch-data"].payloads[0].data)["id"]
        for marker in markers
        if marker.marker_name == "core_patch"
    ]


async def test_a_first_hold_adopts_the_reservation_and_the_saga_runs_as_before(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
) -> None:
    seats = event.seat_ids[:3]
    user, checkout_id, reservation = reserve(backends, engine, event, seats)

    held = await checkouts.start_and_hold(checkout_id, user, event.event_id, seats, reservation)

    assert held.held and held.seat_ids == sorted(seats)
    assert held.expires_at == reservation.expires_at
    assert not hold_step_ran(backends, event)
    assert ADOPT_RESERVATION in await patches(temporal_client, checkout_id)

    state = await checkouts.submit_payment(checkout_id, TOKEN_APPROVE)

    assert state.status == "CONFIRMED", state
    assert state.amount == str(sum(Decimal(p) for p in reservation.prices.values()))
    assert backends.locks.live_locks(event.event_id) == []  # the saga released what it adopted
    await assert_no_violations(engine, backends, temporal_client, event)
    await record(temporal_client, checkouts, checkout_id, "adopted_confirmed")


async def test_an_adopted_hold_is_released_when_the_checkout_is_cancelled(
    checkouts: CheckoutClient, backends: Backends, engine: Engine, event: EventFixture
) -> None:
    seats = event.seat_ids[:2]
    user, checkout_id, reservation = reserve(backends, engine, event, seats)
    assert (
        await checkouts.start_and_hold(checkout_id, user, event.event_id, seats, reservation)
    ).held
    assert not hold_step_ran(backends, event)  # adopted

    state = await checkouts.cancel(checkout_id)

    assert state.status == "CANCELLED"
    assert backends.locks.live_locks(event.event_id) == []


async def test_a_reservation_near_its_expiry_goes_through_the_hold_step(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
) -> None:
    seats = event.seat_ids[:2]
    user, checkout_id, reservation = reserve(backends, engine, event, seats)
    locked_until = reservation.expires_at
    reservation.expires_at = int(time.time()) + 1  # what the API would send after a long wait

    held = await checkouts.start_and_hold(checkout_id, user, event.event_id, seats, reservation)

    assert held.held
    assert held.expires_at == locked_until  # read back from the locks, not taken on trust
    assert hold_step_ran(backends, event)
    assert ADOPT_RESERVATION not in await patches(temporal_client, checkout_id)
    await checkouts.cancel(checkout_id)


async def test_a_reservation_without_every_seat_goes_through_the_hold_step(
    checkouts: CheckoutClient, backends: Backends, engine: Engine, event: EventFixture
) -> None:
    seats = event.seat_ids[:2]
    user, checkout_id, reservation = reserve(backends, engine, event, seats[:1])

    held = await checkouts.start_and_hold(checkout_id, user, event.event_id, seats, reservation)

    assert held.held and held.seat_ids == sorted(seats)
    assert hold_step_ran(backends, event)  # it took the seat the reservation did not have
    assert {lock.seat_id for lock in backends.locks.live_locks(event.event_id)} == set(seats)
    await checkouts.cancel(checkout_id)
