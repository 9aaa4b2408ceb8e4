"""A booking's tickets from PostgreSQL: each booked seat, where it is, and whether it admits.

The token is not stored: it is signed from the ids on demand (``domain/tickets.py``), so a
ticket is exactly a ``booking_seats`` row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, select

from adapters.orm import BookingRow, BookingSeat, Event, Seat
from domain.tickets import ticket_refusal


@dataclass(frozen=True)
class TicketSeat:
    booking_id: str
    booking_reference: str
    event_id: str
    seat_id: str
    section: str
    row: str
    number: int
    # Why it admits nobody (refunded, cancelled...); None while it is good at the door.
    refusal: str | None


def ticket_rows() -> Select[Any]:
    """Booking seats with their place and everything ``ticket_refusal`` needs; the caller
    adds the ``where``. Shared by the listing and the check-in, so both read the same facts."""
    return (
        select(
            BookingSeat.booking_id,
            BookingRow.reference,
            BookingRow.event_id,
            BookingSeat.seat_id,
            Seat.section,
            Seat.row,
            Seat.number,
            BookingRow.status.label("booking_status"),
            BookingSeat.released_at,
            Event.status.label("event_status"),
        )
        .join(BookingRow, BookingRow.id == BookingSeat.booking_id)
        .join(Seat, Seat.id == BookingSeat.seat_id)
        .join(Event, Event.id == BookingRow.event_id)
    )


def to_ticket(row: Any) -> TicketSeat:
    return TicketSeat(
        booking_id=str(row.booking_id),
        booking_reference=row.reference,
        event_id=str(row.event_id),
        seat_id=str(row.seat_id),
        section=row.section,
        row=row.row,
        number=row.number,
        refusal=ticket_refusal(row.booking_status, row.released_at is not None, row.event_status),
    )


class PostgresTickets:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def of_booking(self, booking_id: str) -> list[TicketSeat]:
        """The booking's tickets in seat-map order (section, row, number)."""
        query = (
            ticket_rows()
            .where(BookingSeat.booking_id == uuid.UUID(booking_id))
            .order_by(Seat.section, Seat.row, Seat.number)
        )
        with self._engine.connect() as conn:
            return [to_ticket(row) for row in conn.execute(query)]
