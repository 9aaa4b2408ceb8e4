"""The ports the saga and the API depend on. Real adapters live in ``adapters/``; in-memory
fakes in ``adapters/fakes/``; a contract suite per port runs against both."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from domain.model import AcquireResult, Booking, ConfirmRequest, PaymentIntent, Quote, SeatLock
from domain.ticket_limit import BuyerHolding


class SeatLocks(Protocol):
    """DynamoDB seat locks. ``now`` (epoch seconds) is injectable for tests; default: clock."""

    def acquire(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        user_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> AcquireResult: ...

    def extend(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> int:
        """New expiry. Raises DomainError LOCK_EXPIRED / LOCK_INVALID if any seat is not ours."""
        ...

    def release(self, event_id: str, seat_ids: Sequence[str], lock_id: str) -> int:
        """Deletes only locks held by ``lock_id``; returns how many were deleted. Idempotent."""
        ...

    def validate(
        self, event_id: str, seat_ids: Sequence[str], lock_id: str, now: int | None = None
    ) -> None:
        """Strongly consistent. Raises DomainError LOCK_EXPIRED / LOCK_INVALID."""
        ...

    def live_locks(self, event_id: str, now: int | None = None) -> list[SeatLock]: ...

    def held_seat_ids(self, event_id: str, now: int | None = None) -> set[str]:
        """The seats under a live lock (anyone's): what the seat map subtracts. Only the ids
        travel, so a 1,000-hold on-sale rebuilds its map without moving whole lock items."""
        ...


class Catalog(Protocol):
    """Read side of events and seats that the saga needs."""

    def quote(
        self, event_id: str, seat_ids: Sequence[str], buyer: BuyerHolding | None = None
    ) -> Quote:
        """Prices the seats. Raises DomainError NOT_FOUND (unknown event/seat),
        EVENT_NOT_ON_SALE, SEATS_UNAVAILABLE (booked or blocked; details["seat_ids"]),
        TICKET_LIMIT_REACHED (with ``buyer``: past the event's per-buyer limit)."""
        ...


class BookingStore(Protocol):
    def confirm(self, request: ConfirmRequest) -> Booking:
        """One transaction; idempotent on checkout_id. Books only while the payment the
        request names is AUTHORIZED for this checkout, read in that transaction (a request
        without one takes no payment and is not checked). Raises DomainError
        INVALID_PAYMENT_STATE (that payment is gone: voided, captured, another checkout's),
        SEATS_UNAVAILABLE (details["seat_ids"]: the seats lost) or LOCK_CONTENTION
        (retryable)."""
        ...

    def cancel(self, checkout_id: str) -> Booking | None:
        """Seats back to AVAILABLE; idempotent; None if there was never a booking."""
        ...

    def mark_refunded(self, checkout_id: str) -> Booking | None:
        """Like ``cancel``, for a booking whose payment was refunded (status REFUNDED)."""
        ...

    def get_by_checkout(self, checkout_id: str) -> Booking | None: ...

    def get_by_reference(self, reference: str) -> Booking | None: ...

    def list_for_user(self, user_id: str) -> list[Booking]: ...


class Payments(Protocol):
    """Stripe PaymentIntent semantics. Every call is idempotent on ``key``."""

    def authorize(
        self, key: str, amount: Decimal, currency: str, token: str, checkout_id: str | None = None
    ) -> PaymentIntent:
        """Raises DomainError PAYMENT_DECLINED (final) or PAYMENT_TIMEOUT (retryable)."""
        ...

    def capture(self, intent_id: str, key: str) -> PaymentIntent:
        """Raises DomainError CAPTURE_FAILED."""
        ...

    def void(self, intent_id: str, key: str) -> PaymentIntent: ...

    def refund(self, intent_id: str, key: str) -> PaymentIntent: ...

    def get(self, intent_id: str) -> PaymentIntent | None: ...

    def find_by_checkout(self, checkout_id: str) -> PaymentIntent | None:
        """The intent an authorize for this checkout created, if any (the compensation's
        way to void or refund after a crash that lost the intent id)."""
        ...

    def captured_without_booking(self) -> list[PaymentIntent]:
        """Ledger check (invariant 2): captured, not refunded, no CONFIRMED booking."""
        ...


class SeatMapEvents(Protocol):
    """Tells readers that an event's seat map changed (cache invalidation + live updates).

    ``kind`` is one of "held", "released", "booked", "cancelled". Must not raise on a cache
    outage: the seat map converges through its staleness bound anyway (invariant 5).
    """

    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None: ...
