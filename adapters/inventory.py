"""PostgreSQL catalog: prices a seat selection from the event's per-event inventory.

A quote is advisory (read committed, no locks): the booking transaction re-checks every seat
and re-prices them, so a quote that goes stale between here and payment costs nothing.

It is also the hold's one business check: the event on sale, the seats its own, none booked
or blocked, and the buyer within the event's per-buyer ticket limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, case, func, literal, select

from adapters.orm import BookingRow, BookingSeat, Event, EventSeat, Seat
from domain import pricing
from domain.errors import DomainError, ErrorCode
from domain.model import BookingStatus, EventStatus, PricedSeat, Quote, SeatStatus
from domain.ticket_limit import BuyerHolding, check_ticket_limit
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


def _booked_by(buyer: BuyerHolding | None, event: uuid.UUID) -> ColumnElement[int]:
    """The buyer's seats in CONFIRMED bookings of the event, as a column of the event's row.

    Inside a CASE on the event's limit, so PostgreSQL evaluates the subquery only for events
    that have a limit: a hold of an unlimited event costs nothing more than before, and a
    limited one no extra round trip (the subquery walks the buyer's bookings by index).
    """
    user = _uuid_or_none(buyer.user_id) if buyer is not None else None
    if user is None:
        return literal(0)
    booked = (
        select(func.count())
        .select_from(BookingSeat)
        .join(BookingRow, BookingRow.id == BookingSeat.booking_id)
        .where(
            BookingRow.user_id == user,
            BookingRow.event_id == event,
            BookingRow.status == BookingStatus.CONFIRMED.value,
            BookingSeat.released_at.is_(None),
        )
        .scalar_subquery()
    )
    return case((Event.max_tickets_per_buyer.is_(None), 0), else_=booked)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # not a user of ours: it has no bookings to count


def unavailable(booked: Sequence[str], blocked: Sequence[str]) -> DomainError:
    """The refusal of seats that are not free in the inventory: sold, or taken off sale."""
    parts = []
    if booked:
        parts.append(f"seat(s) already booked: {', '.join(booked)}")
    if blocked:
        parts.append(f"seat(s) not for sale: {', '.join(blocked)}")
    return DomainError(
        ErrorCode.SEATS_UNAVAILABLE, "; ".join(parts), seat_ids=sorted([*booked, *blocked])
    )


class PostgresCatalog:
    """``Catalog`` on PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def quote(
        self, event_id: str, seat_ids: Sequence[str], buyer: BuyerHolding | None = None
    ) -> Quote:
        """Prices the seats (sorted by seat id) at the event's base price × seat modifier.

        With ``buyer``, also applies the event's per-buyer limit to the buyer's booked seats,
        the ones its checkout holds (``buyer.held``) and these.

        Raises:
            DomainError: INVALID_INPUT / DUPLICATE_SEATS (bad ids), NOT_FOUND (unknown event,
                or seats not in its inventory: ``details["seat_ids"]``), EVENT_NOT_ON_SALE,
                SEATS_UNAVAILABLE (booked or blocked: ``details["seat_ids"]``),
                TICKET_LIMIT_REACHED.
        """
        event_key, seats = check_quote_request(event_id, seat_ids)
        event_uuid = uuid.UUID(event_key)
        with self._engine.connect() as conn:
            event = conn.execute(
                select(
                    Event.base_price,
                    Event.currency,
                    Event.status,
                    Event.max_tickets_per_buyer,
                    _booked_by(buyer, event_uuid).label("booked"),
                ).where(Event.id == event_uuid)
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
        blocked = [s for s in seats if found[s].status == SeatStatus.BLOCKED]
        booked = [
            s for s in seats if found[s].status not in (SeatStatus.AVAILABLE, SeatStatus.BLOCKED)
        ]
        if booked or blocked:
            raise unavailable(booked, blocked)
        if buyer is not None:
            check_ticket_limit(event.max_tickets_per_buyer, event.booked, buyer.held, len(seats))
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
