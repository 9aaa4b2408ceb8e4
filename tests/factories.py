"""Test data builders. Every row gets uuid4 names, so runs and tests never collide.

``BookingWorld`` puts one backend (PostgreSQL or in-memory) behind the same few calls, so a
contract test is written once and run against both.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Engine, insert, select

from adapters.bookings import PostgresBookingStore
from adapters.fakes.bookings import InMemoryBookingStore, InMemoryCatalog, InMemoryInventory
from adapters.fakes.payments import InMemoryPayments
from adapters.inventory import PostgresCatalog
from adapters.orm import BookingSeat, Event, EventSeat, Seat, User, Venue
from adapters.payments import SandboxPayments
from domain.model import SeatStatus


@dataclass(frozen=True)
class EventFixture:
    event_id: str
    venue_id: str
    seat_ids: list[str]  # sorted
    base_price: Decimal
    currency: str = "USD"
    modifiers: dict[str, Decimal] = field(default_factory=dict)  # seat id -> price modifier


def _modifiers(n_seats: int, modifiers: Sequence[Decimal] | None) -> list[Decimal]:
    if modifiers is None:
        return [Decimal("1.000")] * n_seats
    if len(modifiers) != n_seats:
        raise ValueError("give one modifier per seat")
    return [Decimal(m) for m in modifiers]


def create_venue_event(
    engine: Engine,
    n_seats: int = 10,
    status: str = "ON_SALE",
    base_price: Decimal = Decimal("50.00"),
    modifiers: Sequence[Decimal] | None = None,
    currency: str = "USD",
) -> EventFixture:
    """A fresh venue with ``n_seats`` seats (the i-th seat gets ``modifiers[i]``) and one event
    whose inventory is all of them, AVAILABLE."""
    factors = _modifiers(n_seats, modifiers)
    venue_id, event_id = uuid.uuid4(), uuid.uuid4()
    seat_uuids = [uuid.uuid4() for _ in range(n_seats)]
    with engine.begin() as conn:
        conn.execute(
            insert(Venue).values(
                id=venue_id,
                name=f"venue-{venue_id}",
                address="1 Test Street",
                total_capacity=n_seats,
            )
        )
        if n_seats:
            conn.execute(
                insert(Seat),
                [
                    {
                        "id": seat,
                        "venue_id": venue_id,
                        "section": "A",
                        "row": str(1 + i // 20),
                        "number": 1 + i % 20,
                        "price_modifier": factors[i],
                    }
                    for i, seat in enumerate(seat_uuids)
                ],
            )
        conn.execute(
            insert(Event).values(
                id=event_id,
                venue_id=venue_id,
                name=f"event-{event_id}",
                event_date=datetime.now(UTC) + timedelta(days=30),
                status=status,
                base_price=base_price,
                currency=currency,
                max_capacity=n_seats,
            )
        )
        if n_seats:
            conn.execute(
                insert(EventSeat),
                [{"event_id": event_id, "seat_id": seat} for seat in seat_uuids],
            )
    return EventFixture(
        event_id=str(event_id),
        venue_id=str(venue_id),
        seat_ids=sorted(str(s) for s in seat_uuids),
        base_price=base_price,
        currency=currency,
        modifiers={str(s): f for s, f in zip(seat_uuids, factors, strict=True)},
    )


def create_user(engine: Engine) -> str:
    user_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(User).values(
                id=user_id,
                email=f"user-{user_id}@example.test",
                first_name="Test",
                last_name="User",
                password_hash="not-a-real-hash",
            )
        )
    return str(user_id)


def seat_states(engine: Engine, event_id: str) -> dict[str, tuple[SeatStatus, str | None]]:
    """``event_seats`` of one event: seat id -> (status, booking id)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(EventSeat.seat_id, EventSeat.status, EventSeat.booking_id).where(
                EventSeat.event_id == uuid.UUID(event_id)
            )
        ).all()
    return {
        str(r.seat_id): (SeatStatus(r.status), str(r.booking_id) if r.booking_id else None)
        for r in rows
    }


def active_booking_seats(engine: Engine, event_id: str) -> list[tuple[str, str]]:
    """Unreleased ``booking_seats`` rows of one event: (seat id, booking id), duplicates kept."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(BookingSeat.seat_id, BookingSeat.booking_id).where(
                BookingSeat.event_id == uuid.UUID(event_id), BookingSeat.released_at.is_(None)
            )
        ).all()
    return sorted((str(r.seat_id), str(r.booking_id)) for r in rows)


class BookingWorld(Protocol):
    """One backend of the booking contract: its store, its catalog and how to seed/inspect."""

    store: PostgresBookingStore | InMemoryBookingStore
    catalog: PostgresCatalog | InMemoryCatalog
    payments: SandboxPayments | InMemoryPayments  # what a confirm's payment is checked in

    def new_event(
        self,
        n_seats: int = 10,
        status: str = "ON_SALE",
        base_price: Decimal = Decimal("50.00"),
        modifiers: Sequence[Decimal] | None = None,
        currency: str = "USD",
    ) -> EventFixture: ...

    def new_user(self) -> str: ...

    def seat_states(self, event_id: str) -> dict[str, tuple[SeatStatus, str | None]]: ...


class PostgresWorld:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = PostgresBookingStore(engine)
        self.catalog = PostgresCatalog(engine)
        self.payments = SandboxPayments(engine)

    def new_event(
        self,
        n_seats: int = 10,
        status: str = "ON_SALE",
        base_price: Decimal = Decimal("50.00"),
        modifiers: Sequence[Decimal] | None = None,
        currency: str = "USD",
    ) -> EventFixture:
        return create_venue_event(self.engine, n_seats, status, base_price, modifiers, currency)

    def new_user(self) -> str:
        return create_user(self.engine)

    def seat_states(self, event_id: str) -> dict[str, tuple[SeatStatus, str | None]]:
        return seat_states(self.engine, event_id)


class MemoryWorld:
    def __init__(self) -> None:
        self.inventory = InMemoryInventory()
        self.payments = InMemoryPayments()
        self.store = InMemoryBookingStore(self.inventory, self.payments)
        self.catalog = InMemoryCatalog(self.inventory)
        self._seats: dict[str, list[str]] = {}

    def new_event(
        self,
        n_seats: int = 10,
        status: str = "ON_SALE",
        base_price: Decimal = Decimal("50.00"),
        modifiers: Sequence[Decimal] | None = None,
        currency: str = "USD",
    ) -> EventFixture:
        factors = _modifiers(n_seats, modifiers)
        event_id = str(uuid.uuid4())
        seats = {str(uuid.uuid4()): f for f in factors}
        self.inventory.add_event(event_id, base_price, currency, status, seats)
        self._seats[event_id] = sorted(seats)
        return EventFixture(
            event_id=event_id,
            venue_id=str(uuid.uuid4()),
            seat_ids=sorted(seats),
            base_price=base_price,
            currency=currency,
            modifiers=seats,
        )

    def new_user(self) -> str:
        return str(uuid.uuid4())

    def seat_states(self, event_id: str) -> dict[str, tuple[SeatStatus, str | None]]:
        return {s: self.inventory.seat_status(event_id, s) for s in self._seats[event_id]}
