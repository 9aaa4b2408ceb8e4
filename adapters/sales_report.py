"""An event's sales report from PostgreSQL: two aggregate queries on one snapshot.

Under a running sale the seat counts and the money must agree (a seat sold between two reads
would show as sold without its revenue), so both queries run in one REPEATABLE READ
transaction. Held seats are the live holds the caller passes in (the grants in Redis, as the
seat map reads them); only AVAILABLE rows count as held, so a seat just booked whose hold is
not released yet is counted once, as sold.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Select, any_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from adapters.check_ins import checked_in_count
from adapters.orm import BookingRow, BookingSeat, Event, EventSeat, Seat
from domain.model import BookingStatus, SeatStatus

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SectionSales:
    section: str
    capacity: int
    sold: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesReport:
    event_id: str
    capacity: int
    sold: int
    held: int
    blocked: int
    available: int
    gross_revenue: Decimal  # CONFIRMED bookings' totals
    refunded: Decimal  # REFUNDED bookings' totals
    currency: str
    bookings: int  # CONFIRMED bookings
    sections: tuple[SectionSales, ...]
    checked_in: int  # tickets admitted at the door (check_ins rows)


_HELD = bindparam("held", type_=ARRAY(UUID(as_uuid=True)))


def _per_section(event: uuid.UUID) -> Select[Any]:
    status = EventSeat.status
    return (
        select(
            Seat.section,
            func.count().label("capacity"),
            func.count().filter(status == SeatStatus.BOOKED.value).label("sold"),
            func.count().filter(status == SeatStatus.BLOCKED.value).label("blocked"),
            func.count()
            .filter(status == SeatStatus.AVAILABLE.value, EventSeat.seat_id == any_(_HELD))
            .label("held"),
            # A BOOKED row names its (CONFIRMED) booking; the booking's seat row has its price.
            func.coalesce(func.sum(BookingSeat.price), ZERO).label("revenue"),
        )
        .join(Seat, Seat.id == EventSeat.seat_id)
        .outerjoin(
            BookingSeat,
            (BookingSeat.booking_id == EventSeat.booking_id)
            & (BookingSeat.seat_id == EventSeat.seat_id),
        )
        .where(EventSeat.event_id == event)
        .group_by(Seat.section)
        .order_by(Seat.section)
    )


def _money(event: uuid.UUID) -> Select[Any]:
    status = BookingRow.status
    confirmed = status == BookingStatus.CONFIRMED.value
    refunded = status == BookingStatus.REFUNDED.value
    bookings = (
        select(
            func.count().filter(confirmed).label("bookings"),
            func.coalesce(func.sum(BookingRow.total_price).filter(confirmed), ZERO).label("gross"),
            func.coalesce(func.sum(BookingRow.total_price).filter(refunded), ZERO).label(
                "refunded"
            ),
        )
        .where(BookingRow.event_id == event)
        .subquery()
    )
    # One row of sums beside the event's row: a deliberate cross join.
    return (
        select(
            Event.currency,
            bookings.c.bookings,
            bookings.c.gross,
            bookings.c.refunded,
            checked_in_count(event).label("checked_in"),
        )
        .select_from(Event)
        .join(bookings, true())
        .where(Event.id == event)
    )


class PostgresSalesReports:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def report(self, event_id: str, held_seat_ids: Collection[str]) -> SalesReport | None:
        """The event's figures, or None for an unknown event."""
        event = uuid.UUID(event_id)
        held = [uuid.UUID(s) for s in held_seat_ids]
        with self._engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                money = conn.execute(_money(event)).one_or_none()
                if money is None:
                    return None
                rows = conn.execute(_per_section(event), {"held": held}).all()
        sections = tuple(
            SectionSales(r.section, r.capacity, r.sold, Decimal(r.revenue)) for r in rows
        )
        capacity = sum(r.capacity for r in rows)
        sold = sum(r.sold for r in rows)
        blocked = sum(r.blocked for r in rows)
        held_count = sum(r.held for r in rows)
        return SalesReport(
            event_id=event_id,
            capacity=capacity,
            sold=sold,
            held=held_count,
            blocked=blocked,
            available=capacity - sold - blocked - held_count,
            gross_revenue=Decimal(money.gross),
            refunded=Decimal(money.refunded),
            currency=money.currency,
            bookings=money.bookings,
            sections=sections,
            checked_in=money.checked_in,
        )
