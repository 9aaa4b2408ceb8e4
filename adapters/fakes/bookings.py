"""In-memory ``BookingStore`` and ``Catalog`` for workflow and API tests.

Same semantics as the PostgreSQL adapters (the contract suite runs against both): validation,
error codes, idempotency on the checkout id, deterministic references. One lock serialises every
call, which is what the row locks achieve for the real store.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from adapters.bookings import (
    HOLDING_STATUSES,
    REFERENCE_ATTEMPTS,
    booking_reference,
    check_confirm_request,
    payment_refusal,
)
from adapters.inventory import check_quote_request
from domain import pricing
from domain.errors import DomainError, ErrorCode
from domain.event_lifecycle import accepts_bookings, after_booking_change
from domain.model import (
    Booking,
    BookingStatus,
    ConfirmRequest,
    EventStatus,
    PaymentIntent,
    PricedSeat,
    Quote,
    SeatStatus,
)
from domain.ticket_limit import BuyerHolding
from domain.validation import parse_uuid, validate_currency


@dataclass
class _Event:
    base_price: Decimal
    currency: str
    status: EventStatus
    modifiers: dict[str, Decimal]
    booked: dict[str, str] = field(default_factory=dict)  # seat -> booking id


class InMemoryInventory:
    """Events, their seats and who booked them; shared by the fake store and catalog."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._events: dict[str, _Event] = {}

    def add_event(
        self,
        event_id: str,
        base_price: Decimal,
        currency: str = "USD",
        status: EventStatus | str = EventStatus.ON_SALE,
        seats: Mapping[str, Decimal] | None = None,
    ) -> None:
        """Adds (or replaces) an event whose inventory is ``seats``: seat id -> price modifier."""
        event = parse_uuid(event_id, "event_id")
        modifiers = {parse_uuid(s, "seat_ids"): Decimal(m) for s, m in (seats or {}).items()}
        with self.lock:
            self._events[event] = _Event(
                Decimal(base_price), validate_currency(currency), EventStatus(status), modifiers
            )

    def set_status(self, event_id: str, status: EventStatus | str) -> None:
        with self.lock:
            self._event(parse_uuid(event_id, "event_id")).status = EventStatus(status)

    def event_status(self, event_id: str) -> EventStatus:
        with self.lock:
            return self._event(parse_uuid(event_id, "event_id")).status

    def follow_inventory(self, event_id: str, confirming: bool = False) -> None:
        """SOLD_OUT when every seat is booked, ON_SALE again when one comes back (the real
        store does this in the booking's transaction; here the one lock serialises it). Like
        the real store, a confirm only ever sells the event out."""
        with self.lock:
            event = self._event(event_id)
            seats_left = len(event.booked) < len(event.modifiers)
            if confirming and seats_left:
                return
            event.status = after_booking_change(event.status, seats_left)

    def seat_status(self, event_id: str, seat_id: str) -> tuple[SeatStatus, str | None]:
        """(status, booking id) of one seat, like a row of ``event_seats``."""
        with self.lock:
            booked_by = self._event(parse_uuid(event_id, "event_id")).booked.get(
                parse_uuid(seat_id, "seat_id")
            )
        return (SeatStatus.BOOKED if booked_by else SeatStatus.AVAILABLE), booked_by

    def _event(self, event_id: str) -> _Event:
        event = self._events.get(event_id)
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "unknown event", event_id=event_id)
        return event

    def _priced(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        currency: str | None = None,
        booking: bool = False,
    ) -> tuple[_Event, list[PricedSeat]]:
        """Checks the event and seats in the real adapters' order and prices them. A hold
        (the quote) needs the sale open; a booking also goes through on a PAUSED or SOLD_OUT
        event (``accepts_bookings``)."""
        event = self._event(event_id)
        open_ = accepts_bookings(event.status) if booking else event.status == EventStatus.ON_SALE
        if not open_:
            raise DomainError(
                ErrorCode.EVENT_NOT_ON_SALE, "event is not on sale", status=event.status.value
            )
        if currency is not None and currency != event.currency:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "currency does not match the event's",
                field="currency",
                expected=event.currency,
            )
        missing = [s for s in seat_ids if s not in event.modifiers]
        if missing:
            raise DomainError(
                ErrorCode.NOT_FOUND, "seats are not part of this event", seat_ids=missing
            )
        taken = [s for s in seat_ids if s in event.booked]
        if taken:
            raise DomainError(
                ErrorCode.SEATS_UNAVAILABLE, "seats are already booked", seat_ids=taken
            )
        return event, [
            PricedSeat(s, pricing.seat_price(event.base_price, event.modifiers[s]))
            for s in seat_ids
        ]


class InMemoryCatalog:
    def __init__(self, inventory: InMemoryInventory) -> None:
        self._inventory = inventory

    def quote(
        self, event_id: str, seat_ids: Sequence[str], buyer: BuyerHolding | None = None
    ) -> Quote:
        # The fake's events have no per-buyer limit (``add_event`` takes none), so ``buyer``
        # never refuses here.
        event_key, seats = check_quote_request(event_id, seat_ids)
        with self._inventory.lock:
            event, priced = self._inventory._priced(event_key, seats)
        return Quote(
            event_id=event_key,
            currency=event.currency,
            seats=tuple(priced),
            total=pricing.total(p.price for p in priced),
        )


class PaymentLookup(Protocol):
    """The one thing the store asks of the payments (``Payments.get``)."""

    def get(self, intent_id: str) -> PaymentIntent | None: ...


class InMemoryBookingStore:
    """``payments``: where a confirm reads the state of the payment it names, as the real store
    reads the sandbox's table in its transaction (the fake's one lock stands in for the share
    lock on the intent only as far as the fake payments' own calls are atomic)."""

    def __init__(self, inventory: InMemoryInventory, payments: PaymentLookup) -> None:
        self._inventory = inventory
        self._payments = payments
        self._by_checkout: dict[str, Booking] = {}
        self._order: dict[str, int] = {}  # checkout -> creation sequence (newest first lists)
        self._sequence = itertools.count()
        self._booking_ids = (f"00000000-0000-4000-8000-{n:012x}" for n in itertools.count(1))

    def confirm(self, request: ConfirmRequest) -> Booking:
        req = check_confirm_request(request)
        with self._inventory.lock:
            existing = self._by_checkout.get(req.checkout_id)
            if existing is not None:
                return existing
            event, priced = self._inventory._priced(
                req.event_id, req.seat_ids, req.currency, booking=True
            )
            self._check_payment(req.checkout_id, req.payment_intent_id)
            expected = pricing.total(p.price for p in priced)
            if expected != req.total:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "total does not match the seats' prices",
                    field="total",
                    expected=str(expected),
                    got=str(req.total),
                )
            taken_refs = {b.reference for b in self._by_checkout.values()}
            reference = next(
                ref
                for ref in (
                    booking_reference(req.checkout_id, n) for n in range(REFERENCE_ATTEMPTS)
                )
                if ref not in taken_refs
            )
            booking = Booking(
                id=next(self._booking_ids),
                reference=reference,
                checkout_id=req.checkout_id,
                user_id=req.user_id,
                event_id=req.event_id,
                seat_ids=req.seat_ids,
                total=req.total,
                currency=req.currency,
                status=BookingStatus.CONFIRMED,
                payment_intent_id=req.payment_intent_id,
                created_at=datetime.now(UTC),
            )
            for seat in req.seat_ids:
                event.booked[seat] = booking.id
            self._by_checkout[req.checkout_id] = booking
            self._order[req.checkout_id] = next(self._sequence)
            self._inventory.follow_inventory(req.event_id, confirming=True)
            return booking

    def _check_payment(self, checkout_id: str, intent_id: str | None) -> None:
        if intent_id is None:
            return
        intent = self._payments.get(intent_id)
        found = None if intent is None else (intent.status.value, intent.checkout_id)
        refusal = payment_refusal(checkout_id, intent_id, found)
        if refusal is not None:
            raise refusal

    def cancel(self, checkout_id: str) -> Booking | None:
        return self._release(checkout_id, BookingStatus.CANCELLED)

    def mark_refunded(self, checkout_id: str) -> Booking | None:
        return self._release(checkout_id, BookingStatus.REFUNDED)

    def get_by_checkout(self, checkout_id: str) -> Booking | None:
        checkout = parse_uuid(checkout_id, "checkout_id")
        with self._inventory.lock:
            return self._by_checkout.get(checkout)

    def get_by_reference(self, reference: str) -> Booking | None:
        if not isinstance(reference, str) or len(reference) > 20:
            raise DomainError(ErrorCode.INVALID_INPUT, "malformed booking reference")
        wanted = reference.strip().upper()
        with self._inventory.lock:
            return next((b for b in self._by_checkout.values() if b.reference == wanted), None)

    def list_for_user(self, user_id: str) -> list[Booking]:
        user = parse_uuid(user_id, "user_id")
        with self._inventory.lock:
            mine = [b for b in self._by_checkout.values() if b.user_id == user]
            return sorted(mine, key=lambda b: self._order[b.checkout_id], reverse=True)

    def _release(self, checkout_id: str, target: BookingStatus) -> Booking | None:
        checkout = parse_uuid(checkout_id, "checkout_id")
        with self._inventory.lock:
            booking = self._by_checkout.get(checkout)
            if booking is None:
                return None
            if booking.status in HOLDING_STATUSES:
                event = self._inventory._event(booking.event_id)
                for seat in booking.seat_ids:
                    if event.booked.get(seat) == booking.id:
                        del event.booked[seat]
                self._inventory.follow_inventory(booking.event_id)
            if booking.status != BookingStatus.REFUNDED and booking.status != target:
                booking = replace(booking, status=target)
                self._by_checkout[checkout] = booking
            return booking
