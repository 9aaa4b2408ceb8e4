"""PostgreSQL catalog: prices a seat selection from the event's per-event inventory.

A quote is advisory (read committed, no locks): the booking transaction re-checks every seat
and re-prices them, so a quote that goes stale between here and payment costs nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, select

from adapters.orm import Event, EventSeat, Seat
from domain import pricing
from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus, PricedSeat, Quote, SeatStatus
from domain.validation import parse_uuid, validate_seat_selection


def check_quote_request(event_id: str, seat_ids: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Canonical event id and sorted seat ids. Shared with the in-memory fake.

    Raises:
        DomainError: INVALID_INPUT (malformed ids, no seats), DUPLICATE_SEATS.
    """
    event = parse_uuid(event_id, "event_id")
    # How many seats one checkout may take is the saga's rule, not the catalog's.
    size = len(seat_ids) if isinstance(seat_ids, Sequence) else 1
    return event, validate_seat_selection(seat_ids, max_seats=max(1, size))


class PostgresCatalog:
    """``Catalog`` on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def quote(self, event_id: str, seat_ids: Sequence[str]) -> Quote:
        """Prices the seats (sorted by seat id) at the event's base price × seat modifier.

        Raises:
            DomainError: INVALID_INPUT / DUPLICATE_SEATS (bad ids), NOT_FOUND (unknown event,
                or seats not in its inventory: ``details["seat_ids"]``), EVENT_NOT_ON_SALE,
                SEATS_UNAVAILABLE (already booked: ``details["seat_ids"]``).
        """
        event_key, seats = check_quote_request(event_id, seat_ids)
        event_uuid = uuid.UUID(event_key)
        with self._engine.connect() as conn:
            event = conn.execute(
                select(Event.base_price, Event.currency, Event.status).where(Event.id == event_uuid)
            ).one_or_none()
            if event is None:
                raise DomainError(ErrorCode.NOT_FOUND, "event not found", event_id=event_key)
            if event.status != EventStatus.ON_SALE:
                raise DomainError(
                    ErrorCode.EVENT_NOT_ON_SALE, f"event is {event.status}", status=event.status
                )
            rows = conn.execute(
                select(EventSeat.seat_id, EventSeat.status, Seat.price_modifier)
                .join(Seat, Seat.id == EventSeat.seat_id)
                .where(
                    EventSeat.event_id == event_uuid,
                    EventSeat.seat_id.in_([uuid.UUID(s) for s in seats]),
                )
            ).all()
        found = {str(row.seat_id): row for row in rows}
        missing = [s for s in seats if s not in found]
        if missing:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"seat(s) not found in this event: {', '.join(missing)}",
                seat_ids=missing,
            )
        taken = [s for s in seats if found[s].status != SeatStatus.AVAILABLE]
        if taken:
            raise DomainError(
                ErrorCode.SEATS_UNAVAILABLE,
                f"seat(s) already booked: {', '.join(taken)}",
                seat_ids=taken,
            )
        priced = tuple(
            PricedSeat(s, pricing.seat_price(event.base_price, found[s].price_modifier))
            for s in seats
        )
        return Quote(
            event_id=event_key,
            currency=event.currency,
            seats=priced,
            total=pricing.total(p.price for p in priced),
        )
