"""What the waiting room needs to know of an event, from PostgreSQL, and the organizer's switch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, update

from adapters.orm import BookingRow, BookingSeat, Event, EventSeat
from domain.model import BookingStatus, SeatStatus


@dataclass(frozen=True)
class RoomEvent:
    id: str
    status: str
    on_sale_at: datetime | None
    switched_on: bool  # the organizer's setWaitingRoom
    max_tickets_per_buyer: int | None
    sellable_seats: int = 0  # its seats not taken off sale (sold ones included)

    @property
    def room_on(self) -> bool:
        """On when the organizer turned it on, and always for a sale with an opening time."""
        return self.switched_on or self.on_sale_at is not None


def room_event(engine: Engine, event_id: str) -> RoomEvent | None:
    try:
        key = uuid.UUID(str(event_id))
    except ValueError:
        return None
    sellable = (
        select(func.count())
        .where(EventSeat.event_id == key, EventSeat.status != SeatStatus.BLOCKED.value)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Event.status,
                Event.on_sale_at,
                Event.waiting_room,
                Event.max_tickets_per_buyer,
                sellable.label("sellable"),
            ).where(Event.id == key)
        ).first()
    if row is None:
        return None
    return RoomEvent(
        str(key),
        row.status,
        row.on_sale_at,
        bool(row.waiting_room),
        row.max_tickets_per_buyer,
        int(row.sellable),
    )


def switch_waiting_room(engine: Engine, event_id: str, enabled: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Event).where(Event.id == uuid.UUID(event_id)).values(waiting_room=enabled)
        )


def recent_order_size(engine: Engine, orders: int = 1000) -> float | None:
    """Seats per order over the platform's latest ``orders`` confirmed bookings placed while
    their event still had at least half its seats unsold (None before the first): what a buyer
    takes while seats are plentiful, the room's first estimate of a turn's seats. Later orders
    take fewer (the last seats are scattered), which the forecast models on its own
    (``domain/waiting_room_forecast.py``); counting them too would put the end of the seats on
    sale at the opening too late in the queue."""
    recent_events = (
        select(BookingRow.event_id)
        .where(BookingRow.status == BookingStatus.CONFIRMED.value)
        .order_by(BookingRow.created_at.desc())
        .limit(orders)
        .subquery()
    )
    sizes = (
        select(
            BookingRow.id,
            BookingRow.event_id,
            BookingRow.created_at,
            func.count(BookingSeat.seat_id).label("seats"),
        )
        .join(BookingSeat, BookingSeat.booking_id == BookingRow.id)
        .where(
            BookingRow.status == BookingStatus.CONFIRMED.value,
            BookingRow.event_id.in_(select(recent_events.c.event_id)),
        )
        .group_by(BookingRow.id)
        .subquery()
    )
    sold_before = func.sum(sizes.c.seats).over(
        partition_by=sizes.c.event_id, order_by=(sizes.c.created_at, sizes.c.id)
    )
    ranked = select(
        sizes.c.event_id,
        sizes.c.created_at,
        sizes.c.seats,
        (sold_before - sizes.c.seats).label("before"),
    ).subquery()
    sellable = (
        select(EventSeat.event_id, func.count().label("seats"))
        .where(EventSeat.status != SeatStatus.BLOCKED.value)
        .group_by(EventSeat.event_id)
        .subquery()
    )
    plentiful = (
        select(ranked.c.seats)
        .join(sellable, sellable.c.event_id == ranked.c.event_id)
        .where(ranked.c.before * 2 < sellable.c.seats)
        .order_by(ranked.c.created_at.desc())
        .limit(orders)
        .subquery()
    )
    with engine.connect() as conn:
        count, seats = conn.execute(
            select(func.count(), func.coalesce(func.sum(plentiful.c.seats), 0))
        ).one()
    return float(seats) / count if count else None
