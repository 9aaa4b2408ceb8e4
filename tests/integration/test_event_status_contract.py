"""The event status follows bookings, the same in the PostgreSQL store and the in-memory fake:
SOLD_OUT with the last seat booked, ON_SALE again when a booking gives seats back, and a
confirm accepted on PAUSED or SOLD_OUT events but refused on a CANCELLED one."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select, update

from adapters.orm import Event
from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus
from tests.factories import BookingWorld, MemoryWorld, PostgresWorld
from tests.integration.test_bookings_contract import request_for


@pytest.fixture(params=["memory", "postgres"])
def world(request: pytest.FixtureRequest) -> BookingWorld:
    if request.param == "memory":
        return MemoryWorld()
    return PostgresWorld(request.getfixturevalue("engine"))


def event_status(world: BookingWorld, event_id: str) -> str:
    if isinstance(world, MemoryWorld):
        return world.inventory.event_status(event_id).value
    assert isinstance(world, PostgresWorld)
    with world.engine.connect() as conn:
        return str(conn.execute(select(Event.status).where(Event.id == event_id)).scalar_one())


def set_status(world: BookingWorld, event_id: str, status: EventStatus) -> None:
    if isinstance(world, MemoryWorld):
        world.inventory.set_status(event_id, status)
        return
    assert isinstance(world, PostgresWorld)
    engine: Engine = world.engine
    with engine.begin() as conn:
        conn.execute(
            update(Event).where(Event.id == uuid.UUID(event_id)).values(status=status.value)
        )


def test_booking_the_last_seat_sells_the_event_out_and_a_cancel_reopens_it(
    world: BookingWorld,
) -> None:
    event = world.new_event(n_seats=3)
    first = request_for(world, event, event.seat_ids[:2], world.new_user())
    world.store.confirm(first)
    assert event_status(world, event.event_id) == "ON_SALE"

    last = request_for(world, event, event.seat_ids[2:], world.new_user())
    world.store.confirm(last)
    assert event_status(world, event.event_id) == "SOLD_OUT"
    # a retried confirm of a booked checkout changes nothing
    world.store.confirm(last)
    assert event_status(world, event.event_id) == "SOLD_OUT"

    world.store.cancel(first.checkout_id)
    assert event_status(world, event.event_id) == "ON_SALE"
    world.store.cancel(first.checkout_id)  # idempotent: still on sale
    assert event_status(world, event.event_id) == "ON_SALE"


def test_a_refund_reopens_a_sold_out_event(world: BookingWorld) -> None:
    event = world.new_event(n_seats=1)
    req = request_for(world, event, event.seat_ids, world.new_user())
    world.store.confirm(req)
    assert event_status(world, event.event_id) == "SOLD_OUT"

    world.store.mark_refunded(req.checkout_id)

    assert event_status(world, event.event_id) == "ON_SALE"


@pytest.mark.parametrize(
    ("status", "after"),
    # a confirm only ever sells an event out; giving seats back is what reopens it
    [(EventStatus.PAUSED, "PAUSED"), (EventStatus.SOLD_OUT, "SOLD_OUT")],
)
def test_confirm_is_accepted_while_paused_or_sold_out(
    world: BookingWorld, status: EventStatus, after: str
) -> None:
    """Seats held before a pause (or released by a refund of a sold-out event) may be paid."""
    event = world.new_event(n_seats=3)
    set_status(world, event.event_id, status)

    booking = world.store.confirm(request_for(world, event, event.seat_ids[:1], world.new_user()))

    assert booking.status.value == "CONFIRMED"
    assert event_status(world, event.event_id) == after


def test_a_paused_event_stays_paused_when_its_last_seat_is_booked(world: BookingWorld) -> None:
    event = world.new_event(n_seats=1)
    set_status(world, event.event_id, EventStatus.PAUSED)
    world.store.confirm(request_for(world, event, event.seat_ids, world.new_user()))
    assert event_status(world, event.event_id) == "PAUSED"


@pytest.mark.parametrize(
    "status", [EventStatus.CANCELLED, EventStatus.DRAFT, EventStatus.SCHEDULED]
)
def test_confirm_is_refused_unless_the_event_takes_bookings(
    world: BookingWorld, status: EventStatus
) -> None:
    event = world.new_event(n_seats=2)
    set_status(world, event.event_id, status)
    req = request_for(world, event, event.seat_ids[:1], world.new_user())

    with pytest.raises(DomainError) as err:
        world.store.confirm(req)

    assert err.value.code is ErrorCode.EVENT_NOT_ON_SALE
    assert world.store.get_by_checkout(req.checkout_id) is None
    assert event_status(world, event.event_id) == status.value


def test_cancelling_a_booking_of_a_cancelled_event_keeps_it_cancelled(
    world: BookingWorld,
) -> None:
    event = world.new_event(n_seats=1)
    req = request_for(world, event, event.seat_ids, world.new_user())
    world.store.confirm(req)
    set_status(world, event.event_id, EventStatus.CANCELLED)

    world.store.mark_refunded(req.checkout_id)

    assert event_status(world, event.event_id) == "CANCELLED"


def test_concurrent_confirms_of_the_last_seats_sell_the_event_out(engine: Engine) -> None:
    """Each confirm sees only committed seats; the event row lock makes the last one to
    decide see all the others, so the event ends SOLD_OUT however the confirms interleave."""
    world = PostgresWorld(engine)
    for _ in range(5):
        event = world.new_event(n_seats=8)
        requests = [request_for(world, event, [s], world.new_user()) for s in event.seat_ids]
        with ThreadPoolExecutor(max_workers=8) as pool:
            bookings = list(pool.map(world.store.confirm, requests))
        assert len({b.id for b in bookings}) == 8
        assert event_status(world, event.event_id) == "SOLD_OUT"
