"""The checkout saga's activities: thin, idempotent calls into the ports.

Every key for idempotency is derived from the checkout id, so a retry (or a second worker
after a crash) repeats the same effect instead of adding one. Business refusals leave as
``ApplicationError``s typed with the domain's code, non-retryable except the transient ones
(``domain.errors.RETRYABLE_CODES``: lock contention, a payment timeout); anything else is a
transport problem that Temporal retries with backoff.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import DomainError, ErrorCode
from domain.model import ConfirmRequest, PaymentStatus
from domain.ports import BookingStore, Catalog, Payments, SeatLocks, SeatMapEvents
from domain.ticket_limit import BuyerHolding

F = TypeVar("F", bound=Callable[..., Any])

# The quote's refusals a hold answers with, instead of failing the step.
HOLD_REFUSALS = frozenset(
    {
        ErrorCode.NOT_FOUND,
        ErrorCode.EVENT_NOT_ON_SALE,
        ErrorCode.SEATS_UNAVAILABLE,
        ErrorCode.TICKET_LIMIT_REACHED,
    }
)


def business_errors(fn: F) -> F:
    """DomainError -> ApplicationError carrying the code as its type and details."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise ApplicationError(
                exc.message, exc.details, type=exc.code.value, non_retryable=not exc.retryable
            ) from exc

    return wrapper  # type: ignore[return-value]


# Reads of the intent a compensation makes while it keeps moving under it: AUTHORIZED, then
# CAPTURED by a late capture, is the longest path (one re-read), so three is a margin.
SETTLE_ATTEMPTS = 3


def authorize_key(checkout_id: str) -> str:
    return f"authorize:{checkout_id}"


def capture_key(checkout_id: str) -> str:
    return f"capture:{checkout_id}"


def void_key(checkout_id: str) -> str:
    return f"void:{checkout_id}"


def refund_key(checkout_id: str) -> str:
    return f"refund:{checkout_id}"


@dataclass
class HoldInput:
    checkout_id: str
    user_id: str
    event_id: str
    seat_ids: list[str]
    hold_seconds: int
    # When adding seats to an existing hold they expire with it, not later.
    expires_at: int | None = None
    # Seats this checkout holds already: the per-buyer limit counts them with these.
    already_held: int = 0


@dataclass
class HoldOutput:
    held: bool
    expires_at: int | None = None
    taken: list[str] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)  # seat id -> Decimal as string
    currency: str | None = None
    reason: str | None = None  # an ErrorCode when not held
    message: str = ""


@dataclass
class ExtendInput:
    checkout_id: str
    event_id: str
    seat_ids: list[str]
    hold_seconds: int


@dataclass
class ReleaseInput:
    checkout_id: str
    event_id: str
    seat_ids: list[str]


@dataclass
class AuthorizeInput:
    checkout_id: str
    amount: str
    currency: str
    payment_token: str | None


@dataclass
class ConfirmInput:
    checkout_id: str
    user_id: str
    event_id: str
    seat_ids: list[str]
    amount: str
    currency: str
    payment_intent_id: str


@dataclass
class ConfirmOutput:
    booking_id: str
    reference: str


@dataclass
class CaptureInput:
    checkout_id: str
    payment_intent_id: str


@dataclass
class CheckoutRef:
    checkout_id: str
    event_id: str = ""


class CheckoutActivities:
    def __init__(
        self,
        locks: SeatLocks,
        catalog: Catalog,
        bookings: BookingStore,
        payments: Payments,
        seat_map: SeatMapEvents,
        default_payment_token: str | None,
    ) -> None:
        self._locks = locks
        self._catalog = catalog
        self._bookings = bookings
        self._payments = payments
        self._seat_map = seat_map
        # The sandbox approves a missing token; a real processor must get one (PAYMENT_REQUIRED).
        self._default_token = default_payment_token

    @activity.defn(name="hold_seats")
    @business_errors
    def hold_seats(self, request: HoldInput) -> HoldOutput:
        """The hold step: the catalog's quote (the one business check: the event is on sale,
        the seats are its own, neither booked nor blocked, the buyer within the event's
        ticket limit; their prices), then the seats' locks, all or none. A refusal is an
        answer (``held=False``), not a failed step."""
        buyer = BuyerHolding(request.user_id, request.already_held)
        try:
            quote = self._catalog.quote(request.event_id, request.seat_ids, buyer)
        except DomainError as exc:
            if exc.code not in HOLD_REFUSALS:
                raise
            if exc.code == ErrorCode.TICKET_LIMIT_REACHED:
                self._drop_lost_locks(request)
            return HoldOutput(
                held=False,
                taken=sorted(exc.details.get("seat_ids", []))
                if exc.code == ErrorCode.SEATS_UNAVAILABLE
                else [],
                reason=exc.code.value,
                message=exc.message,
            )
        # Seats added to a running hold expire with it, not later.
        ttl = request.hold_seconds
        if request.expires_at is not None:
            ttl = max(1, request.expires_at - int(time.time()))
        result = self._locks.acquire(
            request.event_id, request.seat_ids, request.checkout_id, request.user_id, ttl
        )
        if not result.acquired:
            return HoldOutput(
                held=False,
                taken=list(result.taken),
                reason=ErrorCode.SEATS_UNAVAILABLE.value,
                message=f"seat(s) held by another checkout: {', '.join(result.taken)}",
            )
        self._seat_map.changed(request.event_id, request.seat_ids, "held")
        return HoldOutput(
            held=True,
            expires_at=result.expires_at,
            prices={line.seat_id: str(line.price) for line in quote.seats},
            currency=quote.currency,
        )

    def _drop_lost_locks(self, request: HoldInput) -> None:
        """Releases this checkout's locks on seats its workflow does not hold (the request's
        seats are all new to it). Temporal runs a local activity again when the workflow task
        that carried its result is lost, and the holds queued behind it may then run in
        another order: a seat the lost run locked can be refused by the limit on the rerun,
        and its lock would outlive the refusal, one seat past the limit until the checkout
        ends. Only limit refusals need it: any other refusal means the seat is not ours."""
        released = self._locks.release(request.event_id, request.seat_ids, request.checkout_id)
        if released:
            self._seat_map.changed(request.event_id, request.seat_ids, "released")

    @activity.defn(name="extend_hold")
    @business_errors
    def extend_hold(self, request: ExtendInput) -> int:
        return self._locks.extend(
            request.event_id, request.seat_ids, request.checkout_id, request.hold_seconds
        )

    @activity.defn(name="release_seats")
    @business_errors
    def release_seats(self, request: ReleaseInput) -> int:
        released = self._locks.release(request.event_id, request.seat_ids, request.checkout_id)
        if released:
            self._seat_map.changed(request.event_id, request.seat_ids, "released")
        return released

    @activity.defn(name="authorize_payment")
    @business_errors
    def authorize_payment(self, request: AuthorizeInput) -> str:
        token = request.payment_token or self._default_token
        if not token:
            raise DomainError(ErrorCode.PAYMENT_REQUIRED, "a payment token is required")
        intent = self._payments.authorize(
            authorize_key(request.checkout_id),
            Decimal(request.amount),
            request.currency,
            token,
            checkout_id=request.checkout_id,
        )
        return intent.id

    @activity.defn(name="confirm_booking")
    @business_errors
    def confirm_booking(self, request: ConfirmInput) -> ConfirmOutput:
        booking = self._bookings.confirm(
            ConfirmRequest(
                checkout_id=request.checkout_id,
                user_id=request.user_id,
                event_id=request.event_id,
                seat_ids=tuple(request.seat_ids),
                total=Decimal(request.amount),
                currency=request.currency,
                payment_intent_id=request.payment_intent_id,
            )
        )
        self._seat_map.changed(request.event_id, request.seat_ids, "booked")
        return ConfirmOutput(booking_id=booking.id, reference=booking.reference)

    @activity.defn(name="capture_payment")
    @business_errors
    def capture_payment(self, request: CaptureInput) -> None:
        self._payments.capture(request.payment_intent_id, capture_key(request.checkout_id))

    # --- compensations: idempotent, safe to run when the step they undo never happened ---

    @activity.defn(name="cancel_booking")
    @business_errors
    def cancel_booking(self, request: CheckoutRef) -> bool:
        booking = self._bookings.cancel(request.checkout_id)
        if booking is None:
            return False
        self._seat_map.changed(booking.event_id, list(booking.seat_ids), "cancelled")
        return True

    @activity.defn(name="void_or_refund_payment")
    @business_errors
    def void_or_refund_payment(self, request: CheckoutRef) -> str:
        """Voids an authorization, or refunds a capture; answers what it found or did.

        The read and the write are two calls, and a late capture (an attempt of the capture
        step still in flight when the saga gave up on it) can land between them: the void is
        then refused INVALID_PAYMENT_STATE, which a retry of the same void could never change.
        So that refusal sends it back to read and decide again; the intent only moves forward
        (AUTHORIZED -> CAPTURED -> REFUNDED), so the next decision is a refund, and it ends
        refunded. Refusals of a state neither step expects still fail the step.
        """
        for _ in range(SETTLE_ATTEMPTS):
            intent = self._payments.find_by_checkout(request.checkout_id)
            if intent is None:
                return "none"
            try:
                if intent.status == PaymentStatus.AUTHORIZED:
                    return self._payments.void(
                        intent.id, void_key(request.checkout_id)
                    ).status.value
                if intent.status == PaymentStatus.CAPTURED:
                    refund = refund_key(request.checkout_id)
                    return self._payments.refund(intent.id, refund).status.value
            except DomainError as exc:
                if exc.code != ErrorCode.INVALID_PAYMENT_STATE:
                    raise
                continue  # the intent moved under us: read it again
            return intent.status.value  # DECLINED, VOIDED or REFUNDED: nothing held or charged
        # Still moving after every re-read: a transport-like failure, retried by the saga.
        raise RuntimeError(f"payment of checkout {request.checkout_id} kept changing state")

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.hold_seats,
            self.extend_hold,
            self.release_seats,
            self.authorize_payment,
            self.confirm_booking,
            self.capture_payment,
            self.cancel_booking,
            self.void_or_refund_payment,
        ]
