"""What the waiting room needs to know of an event, from PostgreSQL, and the organizer's switch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update

from adapters.orm import BookingRow, BookingSeat, Event
from domain.model import BookingStatus


@dataclass(frozen=True)
class RoomEvent:
    id: str
    status: str
    on_sale_at: datetime | None
    switched_on: bool  # the organizer's setWaitingRoom
    max_tickets_per_buyer: int | None

    @property
    def room_on(self) -> bool:
        """On when the organizer turned it on, and always for a sale with an opening time."""
        return self.switched_on or self.on_sale_at is not None


def room_event(engine: Engine, event_id: str) -> RoomEvent | None:
    try:
        key = uuid.UUID(str(event_id))
    except ValueError:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Event.status, Event.on_sale_at, Event.waiting_room, Event.max_tickets_per_buyer
            ).where(Event.id == key)
        ).first()
    if row is None:
        return None
    return RoomEvent(
        str(key), row.status, row.on_sale_at, bool(row.waiting_room), row.max_tickets_per_buyer
    )


def switch_waiting_room(engine: Engine, event_id: str, enabled: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Event).where(Event.id == uuid.UUID(event_id)).values(waiting_room=enabled)
        )


def recent_order_size(engine: Engine, orders: int = 1000) -> float | None:
    """Seats per order over the platform's last ``orders`` confirmed bookings (None before
    the first): how many seats a buyer's turn takes, before a sale has measured its own."""
    recent = (
        select(BookingRow.id)
        .where(BookingRow.status == BookingStatus.CONFIRMED.value)
        .order_by(BookingRow.created_at.desc())
        .limit(orders)
        .subquery()
    )
    with engine.connect() as conn:
        count, seats = conn.execute(
            select(
                func.count(func.distinct(recent.c.id)), func.count(BookingSeat.seat_id)
            ).select_from(recent.join(BookingSeat, BookingSeat.booking_id == recent.c.id))
        ).one()
    return seats / count if count else None
