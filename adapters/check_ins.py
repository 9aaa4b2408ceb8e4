"""Check-in at the door: a genuine ticket admits its holder once.

One transaction per scan, in READ COMMITTED:
1. read the ticket's booking seat and lock the booking row ``FOR SHARE``: a refund (which
   locks that row ``FOR UPDATE``) waits for this scan, or this scan waits for the refund and
   then sees the booking REFUNDED; a ticket is never admitted by a booking refunded before;
2. ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: of concurrent scans of one ticket exactly
   one inserts the row (the primary key (booking_id, seat_id) decides); the others wait for
   its commit, insert nothing, and read the first scan's time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, ScalarSelect, func, select
from sqlalchemy.dialects.postgresql import insert

from adapters.orm import BookingRow, BookingSeat, CheckIn
from adapters.tickets import TicketSeat, ticket_rows, to_ticket
from domain.tickets import CheckInStatus, TicketClaims


@dataclass(frozen=True)
class CheckInOutcome:
    status: CheckInStatus
    message: str
    ticket: TicketSeat | None = None
    checked_in_at: datetime | None = None


def checked_in_count(event_id: uuid.UUID) -> ScalarSelect[int]:
    """How many tickets of the event were admitted (the sales report's ``checkedIn``)."""
    return (
        select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event_id)
    ).scalar_subquery()


class PostgresCheckIns:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check_in(self, claims: TicketClaims, scanned_by: str) -> CheckInOutcome:
        """Admits the ticket the (verified) claims name, once. The caller has checked that
        the claims' event is the one being scanned for."""
        booking, seat = uuid.UUID(claims.booking_id), uuid.UUID(claims.seat_id)
        with self._engine.begin() as conn:
            row = conn.execute(
                ticket_rows()
                .where(BookingSeat.booking_id == booking, BookingSeat.seat_id == seat)
                .with_for_update(read=True, of=BookingRow)
            ).one_or_none()
            if row is None:  # signed by us, but the booking is gone
                return CheckInOutcome(CheckInStatus.INVALID, "no such ticket")
            ticket = to_ticket(row)
            if ticket.event_id != claims.event_id:
                return CheckInOutcome(CheckInStatus.INVALID, "this ticket is for another event")
            if ticket.refusal is not None:
                return CheckInOutcome(CheckInStatus.INVALID, ticket.refusal, ticket)
            admitted = conn.execute(
                insert(CheckIn)
                .values(
                    booking_id=booking,
                    seat_id=seat,
                    event_id=uuid.UUID(ticket.event_id),
                    checked_in_by=uuid.UUID(scanned_by),
                )
                .on_conflict_do_nothing(index_elements=[CheckIn.booking_id, CheckIn.seat_id])
                .returning(CheckIn.checked_in_at)
            ).scalar_one_or_none()
            if admitted is not None:
                return CheckInOutcome(CheckInStatus.ADMITTED, "admitted", ticket, admitted)
            first = conn.execute(
                select(CheckIn.checked_in_at).where(
                    CheckIn.booking_id == booking, CheckIn.seat_id == seat
                )
            ).scalar_one()
        return CheckInOutcome(
            CheckInStatus.ALREADY_CHECKED_IN, "this ticket was already checked in", ticket, first
        )
