"""An event's status transitions in PostgreSQL, and the bookings its cancellation refunds.

Each transition is one transaction: it locks the event row (``FOR NO KEY UPDATE``, so the
bookings' foreign keys to it are not blocked), asks ``domain.event_lifecycle`` what the command
leads to, and writes it with ``UPDATE ... WHERE status = <the status it read>``. The booking
store's SOLD_OUT rule locks the same row, so a transition and a booking never decide on stale
reads of each other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update

from adapters.db import transaction
from adapters.orm import BookingRow, Event, EventSeat
from domain import event_lifecycle as rules
from domain.errors import DomainError, ErrorCode
from domain.model import BookingStatus, EventStatus, SeatStatus


@dataclass(frozen=True)
class EventRow:
    event_id: str
    status: str
    event_date: datetime
    on_sale_at: datetime | None
    cancel_reason: str | None


@dataclass(frozen=True)
class Transition:
    before: str
    after: EventRow

    @property
    def changed(self) -> bool:
        return self.before != self.after.status


@dataclass(frozen=True)
class RefundItem:
    booking_id: str
    checkout_id: str


def _key(event_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(event_id))
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, "event not found", event_id=event_id) from None


class EventSales:
    def __init__(self, engine: Engine, lock_timeout_ms: int = 2000) -> None:
        self._engine = engine
        self._lock_timeout_ms = lock_timeout_ms

    def get(self, event_id: str) -> EventRow | None:
        key = _key(event_id)
        with self._engine.connect() as conn:
            return self._read(conn, key, lock=False)

    def apply(
        self, event_id: str, command: str, at: datetime, reason: str | None = None
    ) -> Transition:
        """Carries out ``command`` (publish, pause, resume, cancel, open_sale, complete) at
        instant ``at``. A timer's command that is not due (the date moved) changes nothing.

        Raises:
            DomainError: NOT_FOUND, INVALID_STATE (the command is refused in this status).
        """
        key = _key(event_id)
        with transaction(self._engine, self._lock_timeout_ms) as conn:
            row = self._read(conn, key, lock=True)
            if row is None:
                raise DomainError(ErrorCode.NOT_FOUND, "event not found", event_id=event_id)
            target = self._decide(conn, key, row, command, at)
            values: dict[str, object] = {}
            if target != row.status:
                values["status"] = target.value
            if command == "cancel":
                values["cancel_reason"] = reason or None
            if values:
                done = conn.execute(
                    update(Event)
                    .where(Event.id == key, Event.status == row.status)
                    .values(**values)
                )
                if done.rowcount != 1:  # impossible under the row lock; never write blind
                    raise RuntimeError(f"event {event_id} changed under its row lock")
            after = self._read(conn, key, lock=False)
            assert after is not None
            return Transition(before=row.status, after=after)

    def _decide(
        self, conn: Connection, key: uuid.UUID, row: EventRow, command: str, at: datetime
    ) -> EventStatus:
        status = row.status
        if command == "publish":
            return rules.publish(status, row.on_sale_at, at)
        if command == "pause":
            return rules.pause(status)
        if command == "resume":
            return rules.resume(status, row.on_sale_at, at, self._seats_left(conn, key))
        if command == "cancel":
            return rules.cancel(status)
        if command == "open_sale":
            if row.on_sale_at is not None and row.on_sale_at > at:
                return EventStatus(status)  # moved later: the workflow re-arms its timer
            return rules.open_sale(status, self._seats_left(conn, key))
        if command == "complete":
            if row.event_date > at:
                return EventStatus(status)
            return rules.complete(status)
        raise DomainError(ErrorCode.INVALID_INPUT, f"unknown event command {command!r}")

    @staticmethod
    def _seats_left(conn: Connection, key: uuid.UUID) -> bool:
        return (
            conn.execute(
                select(EventSeat.seat_id)
                .where(EventSeat.event_id == key, EventSeat.status == SeatStatus.AVAILABLE.value)
                .limit(1)
            ).first()
            is not None
        )

    @staticmethod
    def _read(conn: Connection, key: uuid.UUID, lock: bool) -> EventRow | None:
        query = select(Event.status, Event.event_date, Event.on_sale_at, Event.cancel_reason).where(
            Event.id == key
        )
        if lock:
            query = query.with_for_update(key_share=True)
        row = conn.execute(query).first()
        if row is None:
            return None
        return EventRow(
            event_id=str(key),
            status=row.status,
            event_date=row.event_date,
            on_sale_at=row.on_sale_at,
            cancel_reason=row.cancel_reason,
        )

    # --- the cancellation's refunds ---

    def to_refund(self, event_id: str, limit: int) -> tuple[list[RefundItem], int]:
        """Up to ``limit`` CONFIRMED bookings of the event in id order, and how many there are.

        Refunded bookings leave the set, so asking again after refunding a batch gives the
        next one, and a booking confirmed late (in the instant of the cancellation) is found.
        """
        key = _key(event_id)
        confirmed = (BookingRow.event_id == key) & (
            BookingRow.status == BookingStatus.CONFIRMED.value
        )
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(BookingRow.id, BookingRow.checkout_id)
                .where(confirmed)
                .order_by(BookingRow.id)
                .limit(limit)
            ).all()
            total = conn.execute(select(func.count()).where(confirmed)).scalar_one()
        return [RefundItem(str(r.id), str(r.checkout_id)) for r in rows], int(total)
