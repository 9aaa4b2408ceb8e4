"""Read side of events and seats in PostgreSQL: event listings, one event, and seat-map rows.

Availability is derived from ``event_seats`` rows, never kept in a counter that every booking
would update. (Pricing a selection for the saga, the ``Catalog`` port, is ``adapters/inventory``.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, func, select

from adapters.orm import Event, EventSeat, Seat, Venue
from domain.model import SeatStatus
from domain.pricing import seat_price


@dataclass(frozen=True)
class VenueInfo:
    id: str
    name: str
    address: str
    total_capacity: int
    width: float = 0.0
    height: float = 0.0


@dataclass(frozen=True)
class EventInfo:
    id: str
    name: str
    description: str | None
    event_date: datetime
    status: str
    base_price: Decimal
    currency: str
    max_capacity: int
    venue: VenueInfo
    organizer_id: str | None = None
    on_sale_at: datetime | None = None
    max_tickets_per_buyer: int | None = None
    cancel_reason: str | None = None


@dataclass(frozen=True)
class SeatInfo:
    """One seat of an event's inventory, with its per-event status and price."""

    id: str
    section: str
    row: str
    number: int
    type: str
    price_modifier: Decimal
    price: Decimal
    status: str


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


_EVENT_COLUMNS = (
    Event.id,
    Event.name,
    Event.description,
    Event.event_date,
    Event.status,
    Event.base_price,
    Event.currency,
    Event.max_capacity,
    Event.organizer_id,
    Event.on_sale_at,
    Event.max_tickets_per_buyer,
    Event.cancel_reason,
    Venue.id.label("venue_id"),
    Venue.name.label("venue_name"),
    Venue.address,
    Venue.total_capacity,
    Venue.width,
    Venue.height,
)


def _event(row: object) -> EventInfo:
    r = row._mapping  # type: ignore[attr-defined]
    return EventInfo(
        id=str(r["id"]),
        name=r["name"],
        description=r["description"],
        event_date=r["event_date"],
        status=r["status"],
        base_price=r["base_price"],
        currency=r["currency"],
        max_capacity=r["max_capacity"],
        venue=VenueInfo(
            id=str(r["venue_id"]),
            name=r["venue_name"],
            address=r["address"],
            total_capacity=r["total_capacity"],
            width=r["width"],
            height=r["height"],
        ),
        organizer_id=str(r["organizer_id"]) if r["organizer_id"] else None,
        on_sale_at=r["on_sale_at"],
        max_tickets_per_buyer=r["max_tickets_per_buyer"],
        cancel_reason=r["cancel_reason"],
    )


class EventCatalog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_events(self, limit: int = 20, status: str | None = None) -> list[EventInfo]:
        """Events by date; ``status`` filters (None: every status)."""
        query = select(*_EVENT_COLUMNS).join(Venue, Venue.id == Event.venue_id)
        if status is not None:
            query = query.where(Event.status == status)
        query = query.order_by(Event.event_date, Event.id).limit(limit)
        with self._engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def list_for_organizer(self, organizer_id: str | None) -> list[EventInfo]:
        """Every event of one organizer, any status, by date; ``None`` lists all (an ADMIN)."""
        query = select(*_EVENT_COLUMNS).join(Venue, Venue.id == Event.venue_id)
        if organizer_id is not None:
            key = _uuid(organizer_id)
            if key is None:
                return []
            query = query.where(Event.organizer_id == key)
        with self._engine.connect() as conn:
            return [_event(row) for row in conn.execute(query.order_by(Event.event_date, Event.id))]

    def get_event(self, event_id: str) -> EventInfo | None:
        key = _uuid(event_id)
        if key is None:
            return None
        with self._engine.connect() as conn:
            return self._get_event(conn, key)

    def selection(
        self, event_id: str, seat_ids: Sequence[str]
    ) -> tuple[EventInfo | None, list[SeatInfo]]:
        """The event and the given seats' rows, read on one connection: what every hold
        checks first, so it costs one pool checkout and one thread hop, not two."""
        key = _uuid(event_id)
        if key is None:
            return None, []
        with self._engine.connect() as conn:
            event = self._get_event(conn, key)
            if event is None:
                return None, []
            return event, self._seat_rows(conn, key, seat_ids, available_only=False)

    @staticmethod
    def _get_event(conn: Connection, key: uuid.UUID) -> EventInfo | None:
        query = select(*_EVENT_COLUMNS).join(Venue, Venue.id == Event.venue_id)
        row = conn.execute(query.where(Event.id == key)).first()
        return _event(row) if row is not None else None

    def price_from(self, event_id: str) -> Decimal | None:
        """The cheapest seat's price: base price × the lowest modifier of the inventory."""
        key = _uuid(event_id)
        if key is None:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                select(Event.base_price, func.min(Seat.price_modifier))
                .join(EventSeat, EventSeat.event_id == Event.id)
                .join(Seat, Seat.id == EventSeat.seat_id)
                .where(Event.id == key)
                .group_by(Event.base_price)
            ).first()
        return None if row is None else seat_price(row[0], row[1])

    def seat_rows(
        self, event_id: str, seat_ids: Sequence[str] | None = None, available_only: bool = False
    ) -> list[SeatInfo]:
        """The event's inventory rows (all, or the given seats), priced, in seat-map order."""
        event_key = _uuid(event_id)
        if event_key is None:
            return []
        with self._engine.connect() as conn:
            return self._seat_rows(conn, event_key, seat_ids, available_only)

    @staticmethod
    def _seat_rows(
        conn: Connection,
        event_key: uuid.UUID,
        seat_ids: Sequence[str] | None,
        available_only: bool,
    ) -> list[SeatInfo]:
        query = (
            select(
                Seat.id,
                Seat.section,
                Seat.row,
                Seat.number,
                Seat.type,
                Seat.price_modifier,
                EventSeat.status,
                Event.base_price,
            )
            .join(EventSeat, EventSeat.seat_id == Seat.id)
            .join(Event, Event.id == EventSeat.event_id)
            .where(EventSeat.event_id == event_key)
        )
        if seat_ids is not None:
            keys = [k for k in (_uuid(s) for s in seat_ids) if k is not None]
            query = query.where(EventSeat.seat_id.in_(keys))
        if available_only:
            query = query.where(EventSeat.status == SeatStatus.AVAILABLE.value)
        query = query.order_by(Seat.section, Seat.row, Seat.number)
        return [
            SeatInfo(
                id=str(r.id),
                section=r.section,
                row=r.row,
                number=r.number,
                type=r.type,
                price_modifier=r.price_modifier,
                price=seat_price(r.base_price, r.price_modifier),
                status=r.status,
            )
            for r in conn.execute(query)
        ]
