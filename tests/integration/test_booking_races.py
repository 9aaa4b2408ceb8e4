"""Invariant 1 under concurrency, against the real PostgreSQL: no seat is ever sold twice.

The negative control runs the same race and the same checks against a store stripped of its
guards, on a scratch database without the partial unique index, and requires them to catch a
double booking: proof that the positive test is able to fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from adapters.bookings import PostgresBookingStore
from adapters.db import make_engine
from adapters.migrate import upgrade
from adapters.orm import BookingRow, EventSeat, Seat
from devstack.databases import create_database, drop_database
from devstack.services import Stack
from domain.errors import DomainError, ErrorCode
from domain.model import Booking, ConfirmRequest, SeatStatus
from tests.factories import (
    EventFixture,
    active_booking_seats,
    create_user,
    create_venue_event,
    seat_states,
)

BUYERS = 20
SEATS = 12


@dataclass
class Outcome:
    request: ConfirmRequest
    booking: Booking | None = None
    error: DomainError | None = None


def make_request(event: EventFixture, seats: Sequence[str], user_id: str) -> ConfirmRequest:
    return ConfirmRequest(
        checkout_id=str(uuid.uuid4()),
        user_id=user_id,
        event_id=event.event_id,
        seat_ids=tuple(seats),
        total=event.base_price * len(seats),
        currency="USD",
    )


def overlapping_requests(event: EventFixture, user_id: str, seed: int) -> list[ConfirmRequest]:
    rng = random.Random(seed)
    return [
        make_request(event, rng.sample(event.seat_ids, rng.randint(2, 4)), user_id)
        for _ in range(BUYERS)
    ]


def race(
    store: PostgresBookingStore, requests: list[ConfirmRequest], retry_contention: bool = True
) -> list[Outcome]:
    """Every request confirmed from its own thread, all released at once by a barrier."""
    outcomes = [Outcome(r) for r in requests]
    crashes: list[BaseException] = []
    start = threading.Barrier(len(requests))

    def buy(outcome: Outcome) -> None:
        try:
            start.wait(timeout=30)
            for _ in range(50):
                try:
                    outcome.booking = store.confirm(outcome.request)
                    return
                except DomainError as exc:
                    outcome.error = exc
                    if not (retry_contention and exc.retryable):
                        return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            crashes.append(exc)

    threads = [threading.Thread(target=buy, args=(o,)) for o in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a confirm hung"
    if crashes:
        raise crashes[0]
    return outcomes


def assert_no_double_booking(engine: Engine, event: EventFixture, outcomes: list[Outcome]) -> None:
    winners = [o.booking for o in outcomes if o.booking is not None]
    losers = [o for o in outcomes if o.booking is None]

    active = active_booking_seats(engine, event.event_id)
    twice = {seat: n for seat, n in Counter(seat for seat, _ in active).items() if n > 1}
    assert not twice, f"seats in two active bookings: {twice}"
    claimed = Counter(seat for booking in winners for seat in booking.seat_ids)
    assert max(claimed.values(), default=0) <= 1, "two confirmed bookings share a seat"
    assert sorted(active) == sorted((s, b.id) for b in winners for s in b.seat_ids)

    states = seat_states(engine, event.event_id)
    owner = {seat: b.id for b in winners for seat in b.seat_ids}
    for seat in event.seat_ids:
        expected = (
            (SeatStatus.BOOKED, owner[seat]) if seat in owner else (SeatStatus.AVAILABLE, None)
        )
        assert states[seat] == expected

    with engine.connect() as conn:
        loser_rows = conn.execute(
            select(BookingRow.id).where(
                BookingRow.checkout_id.in_([uuid.UUID(o.request.checkout_id) for o in losers])
            )
        ).all()
    assert loser_rows == [], "a refused confirm left a booking behind"
    for loser in losers:
        assert loser.error is not None and loser.error.code is ErrorCode.SEATS_UNAVAILABLE
        lost = set(loser.error.details["seat_ids"])
        assert lost and lost <= set(loser.request.seat_ids) & set(owner)


def test_concurrent_overlapping_confirms_never_double_book(engine: Engine) -> None:
    event = create_venue_event(engine, n_seats=SEATS)
    requests = overlapping_requests(event, create_user(engine), seed=1)

    outcomes = race(PostgresBookingStore(engine), requests)

    winners = [o for o in outcomes if o.booking]
    # 20 buyers of 2-4 seats among 12: at most 6 can win, so the race really had losers
    assert 1 <= len(winners) <= SEATS // 2
    assert_no_double_booking(engine, event, outcomes)


def test_concurrent_retries_of_one_checkout_book_once(engine: Engine) -> None:
    event = create_venue_event(engine, n_seats=3)
    request = make_request(event, event.seat_ids, create_user(engine))

    outcomes = race(PostgresBookingStore(engine), [request] * 8)

    bookings = {o.booking for o in outcomes}
    assert len(bookings) == 1 and None not in bookings
    with engine.connect() as conn:
        count = conn.execute(
            select(BookingRow.id).where(BookingRow.checkout_id == uuid.UUID(request.checkout_id))
        ).all()
    assert len(count) == 1


def test_a_held_row_lock_is_a_clear_retryable_error_not_a_hang(engine: Engine) -> None:
    event = create_venue_event(engine, n_seats=2)
    request = make_request(event, event.seat_ids, create_user(engine))
    store = PostgresBookingStore(engine, lock_timeout_ms=200)

    with engine.connect() as holder:
        holder.execute(
            select(EventSeat.seat_id)
            .where(
                EventSeat.event_id == uuid.UUID(event.event_id),
                EventSeat.seat_id == uuid.UUID(event.seat_ids[1]),
            )
            .with_for_update()
        )
        with pytest.raises(DomainError) as err:
            store.confirm(request)
        assert err.value.code is ErrorCode.LOCK_CONTENTION
        assert err.value.retryable
        assert store.get_by_checkout(request.checkout_id) is None
        assert {s for s, _ in seat_states(engine, event.event_id).values()} == {
            SeatStatus.AVAILABLE
        }
        holder.rollback()

    assert store.confirm(request).seat_ids == tuple(event.seat_ids)


def test_partial_unique_index_refuses_a_second_active_row(engine: Engine) -> None:
    event = create_venue_event(engine, n_seats=1)
    user = create_user(engine)
    seat = event.seat_ids[0]

    def add_booking(conn: Connection) -> str:
        booking_id = str(uuid.uuid4())
        conn.execute(
            text(
                "INSERT INTO bookings (id, reference, checkout_id, user_id, event_id, total_price,"
                " currency, status) VALUES (:id, :ref, :checkout, :user, :event, 50, 'USD',"
                " 'CONFIRMED')"
            ),
            {
                "id": booking_id,
                "ref": "RAW-" + uuid.uuid4().hex[:12],
                "checkout": str(uuid.uuid4()),
                "user": user,
                "event": event.event_id,
            },
        )
        return booking_id

    def add_seat(conn: Connection, booking_id: str) -> None:
        conn.execute(
            text(
                "INSERT INTO booking_seats (booking_id, seat_id, event_id, price)"
                " VALUES (:booking, :seat, :event, 50)"
            ),
            {"booking": booking_id, "seat": seat, "event": event.event_id},
        )

    with engine.begin() as conn:
        first, second = add_booking(conn), add_booking(conn)
        add_seat(conn, first)

    with pytest.raises(IntegrityError) as err, engine.begin() as conn:
        add_seat(conn, second)
    assert err.value.orig.diag.constraint_name == "uq_booking_seats_active_event_seat"  # type: ignore[union-attr]

    # once the first booking's row is released, the seat can be sold again
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE booking_seats SET released_at = now() WHERE booking_id = :b"),
            {"b": first},
        )
        add_seat(conn, second)
    assert active_booking_seats(engine, event.event_id) == [(seat, second)]


# --- negative control ---------------------------------------------------------------------


class UnguardedBookingStore(PostgresBookingStore):
    """The store without its guards: an unlocked read, a check, then an unconditional write.

    ``window`` holds every buyer between its check and its write, which makes the classic
    check-then-act race certain instead of likely.
    """

    def __init__(self, engine: Engine, window: threading.Barrier) -> None:
        super().__init__(engine)
        self._window = window

    def _lock_seats(
        self, conn: Connection, event_id: uuid.UUID, seat_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, Decimal]]:
        rows = conn.execute(
            select(EventSeat.seat_id, EventSeat.status, Seat.price_modifier)
            .join(Seat, Seat.id == EventSeat.seat_id)
            .where(EventSeat.event_id == event_id, EventSeat.seat_id.in_(seat_ids))
        ).all()
        return {row.seat_id: (row.status, row.price_modifier) for row in rows}

    def _check_available(
        self, seat_ids: list[uuid.UUID], found: dict[uuid.UUID, tuple[str, Decimal]]
    ) -> None:
        super()._check_available(seat_ids, found)
        self._window.wait(timeout=30)

    def _claim_seats(
        self,
        conn: Connection,
        event_id: uuid.UUID,
        seat_ids: list[uuid.UUID],
        booking_id: uuid.UUID,
    ) -> None:
        conn.execute(
            update(EventSeat)
            .where(EventSeat.event_id == event_id, EventSeat.seat_id.in_(seat_ids))
            .values(status=SeatStatus.BOOKED.value, booking_id=booking_id)
        )


@pytest.fixture(scope="module")
def unguarded_engine(stack: Stack) -> Iterator[Engine]:
    """A scratch database built by the migrations, minus the partial unique index."""
    name = f"tb_unguarded_{uuid.uuid4().hex[:10]}"
    url = create_database(stack.database_url, name)
    engine = make_engine(url)
    try:
        upgrade(url)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX uq_booking_seats_active_event_seat"))
        yield engine
    finally:
        engine.dispose()
        drop_database(stack.database_url, name)


def test_negative_control_the_race_checks_catch_an_unguarded_store(
    unguarded_engine: Engine,
) -> None:
    event = create_venue_event(unguarded_engine, n_seats=SEATS)
    requests = overlapping_requests(event, create_user(unguarded_engine), seed=1)
    store = UnguardedBookingStore(unguarded_engine, threading.Barrier(len(requests)))

    outcomes = race(store, requests, retry_contention=False)

    active = active_booking_seats(unguarded_engine, event.event_id)
    assert max(Counter(seat for seat, _ in active).values()) > 1, "no double booking happened"
    with pytest.raises(AssertionError):
        assert_no_double_booking(unguarded_engine, event, outcomes)


def test_the_store_alone_never_double_books_even_without_the_index(
    unguarded_engine: Engine,
) -> None:
    event = create_venue_event(unguarded_engine, n_seats=SEATS)
    requests = overlapping_requests(event, create_user(unguarded_engine), seed=2)

    outcomes = race(PostgresBookingStore(unguarded_engine), requests)

    assert_no_double_booking(unguarded_engine, event, outcomes)
