"""PostgreSQL booking store: the last guard of invariant 1 (no seat is ever sold twice).

A seat lock in DynamoDB can expire while its holder is still paying, so ``confirm`` trusts no
lock: in one transaction it locks exactly the requested ``event_seats`` rows (sorted, so two
confirms never deadlock), flips them AVAILABLE -> BOOKED only if they still are AVAILABLE, and
refuses unless every seat flipped. The partial unique index on ``booking_seats`` backs this up
in the schema itself.

A booking takes the buyer's money, so ``confirm`` also refuses unless the payment it names is
still AUTHORIZED for this checkout (``payment_refusal``), read under a share lock in the same
transaction: a confirm attempt that lands after the saga voided the payment (its step timed out,
the compensation ran, the attempt was still in flight) refuses instead of booking seats over a
voided authorization; a void waits for a confirm that read first, and the saga's compensation
then cancels that booking before voiding.

The event's SOLD_OUT status follows its inventory in the same transactions
(``domain.event_lifecycle.after_booking_change``): the confirm that books the last sellable seat
sells the event out, and a cancel or refund that gives seats back puts it on sale again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from adapters.db import transaction
from adapters.orm import BookingRow, BookingSeat, Event, EventSeat, PaymentIntentRow, Seat
from domain import pricing
from domain.errors import DomainError, ErrorCode
from domain.event_lifecycle import accepts_bookings, after_booking_change
from domain.model import Booking, BookingStatus, ConfirmRequest, PaymentStatus, SeatStatus
from domain.validation import (
    parse_uuid,
    validate_amount,
    validate_currency,
    validate_seat_selection,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread aloud
REFERENCE_PREFIX = "TB-"
# 10 characters = 50 bits: a collision is unlikely even at millions of bookings, and
# ``confirm`` falls back to the next deterministic candidate if one ever happens.
REFERENCE_LENGTH = 10
REFERENCE_ATTEMPTS = 4
MAX_PAYMENT_INTENT_ID = 64

UQ_CHECKOUT = "uq_bookings_checkout_id"
UQ_REFERENCE = "uq_bookings_reference"
UQ_ACTIVE_SEAT = "uq_booking_seats_active_event_seat"
FK_USER = "fk_bookings_user_id_users"

# Statuses whose seats are still taken; cancelling or refunding gives them back.
HOLDING_STATUSES = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED})


def booking_reference(checkout_id: str, attempt: int = 0) -> str:
    """The human reference of a checkout's booking, e.g. ``TB-7KQ2M-X9D4F``.

    Derived from the checkout id alone, so a retried confirm produces the same reference.
    ``attempt`` picks the next candidate in the (astronomically rare) case of a collision.
    """
    canonical = parse_uuid(checkout_id, "checkout_id")
    material = canonical if attempt == 0 else f"{canonical}#{attempt}"
    value = int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big")
    chars = []
    for _ in range(REFERENCE_LENGTH):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    code = "".join(chars)
    half = REFERENCE_LENGTH // 2
    return f"{REFERENCE_PREFIX}{code[:half]}-{code[half:]}"


@dataclass(frozen=True)
class CheckedRequest:
    """A ConfirmRequest whose shape has been checked; ids canonical, seats sorted."""

    checkout_id: str
    user_id: str
    event_id: str
    seat_ids: tuple[str, ...]
    total: Decimal
    currency: str
    payment_intent_id: str | None


def check_confirm_request(request: ConfirmRequest) -> CheckedRequest:
    """Validates everything that needs no database. Shared with the in-memory fake.

    Raises:
        DomainError: INVALID_INPUT or DUPLICATE_SEATS.
    """
    # The per-checkout seat limit is the saga's rule; the store books whatever it is given.
    seat_ids = validate_seat_selection(
        request.seat_ids, max_seats=max(1, len(request.seat_ids or ()))
    )
    total = request.total
    # validate_amount refuses zero, but a free event is legal (events.base_price >= 0).
    if isinstance(total, Decimal) and total.is_finite() and total == 0:
        total = Decimal("0.00")
    else:
        total = validate_amount(total, "total")
    intent = request.payment_intent_id
    if intent is not None and (not isinstance(intent, str) or len(intent) > MAX_PAYMENT_INTENT_ID):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "payment_intent_id is malformed", field="payment_intent_id"
        )
    return CheckedRequest(
        checkout_id=parse_uuid(request.checkout_id, "checkout_id"),
        user_id=parse_uuid(request.user_id, "user_id"),
        event_id=parse_uuid(request.event_id, "event_id"),
        seat_ids=seat_ids,
        total=total,
        currency=validate_currency(request.currency),
        payment_intent_id=intent,
    )


def payment_refusal(
    checkout_id: str, intent_id: str, found: tuple[str, str | None] | None
) -> DomainError | None:
    """Why a confirm may not book on this payment, or None. ``found`` is the intent's
    (status, checkout id), None if there is no such intent. Shared with the in-memory fake.

    Only an authorization of this very checkout pays for its booking: a voided, declined or
    refunded intent holds no money, a captured one was already spent (the saga captures after
    confirming, never before), and another checkout's intent pays for another booking.
    """
    if found is None:
        return DomainError(
            ErrorCode.INVALID_PAYMENT_STATE, "no such payment intent", intent_id=intent_id
        )
    status, intent_checkout = found
    if intent_checkout != checkout_id:
        return DomainError(
            ErrorCode.INVALID_PAYMENT_STATE,
            "the payment belongs to another checkout",
            intent_id=intent_id,
        )
    if status != PaymentStatus.AUTHORIZED:
        return DomainError(
            ErrorCode.INVALID_PAYMENT_STATE,
            f"the payment is {status}, not AUTHORIZED",
            intent_id=intent_id,
            status=str(status),
        )
    return None


def _constraint_name(exc: DBAPIError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _uuids(ids: Sequence[str]) -> list[uuid.UUID]:
    return [uuid.UUID(i) for i in ids]


def follow_inventory(conn: Connection, event_id: uuid.UUID, confirming: bool = False) -> None:
    """Applies ``after_booking_change`` under the event row's lock (``FOR NO KEY UPDATE``: it
    does not block the bookings' foreign keys to the event), in the transaction that changed
    the inventory: a booking, a cancellation, or an organizer's block. A confirm also
    re-checks that the event still takes bookings: a cancellation committed since the confirm's
    first read refuses it (rolled back with the whole booking)."""
    status = conn.execute(
        select(Event.status).where(Event.id == event_id).with_for_update(key_share=True)
    ).scalar_one()
    if confirming and not accepts_bookings(status):
        raise DomainError(ErrorCode.EVENT_NOT_ON_SALE, "event is not on sale", status=status)
    seats_left = (
        conn.execute(
            select(EventSeat.seat_id)
            .where(
                EventSeat.event_id == event_id,
                EventSeat.status == SeatStatus.AVAILABLE.value,
            )
            .limit(1)
        ).first()
        is not None
    )
    new_status = after_booking_change(status, seats_left)
    if new_status != status:
        conn.execute(
            update(Event)
            .where(Event.id == event_id, Event.status == status)
            .values(status=new_status.value)
        )


class PostgresBookingStore:
    """``BookingStore`` on PostgreSQL (SQLAlchemy Core, psycopg 3), one transaction per call.

    Args:
        engine: the pooled engine of the platform database.
        lock_timeout_ms: how long a transaction waits for a row lock before giving up with a
            retryable LOCK_CONTENTION instead of queueing behind a flash-sale crowd.
    """

    def __init__(self, engine: Engine, lock_timeout_ms: int = 2000) -> None:
        if lock_timeout_ms < 1:
            raise ValueError("lock_timeout_ms must be positive")
        self._engine = engine
        self._lock_timeout_ms = lock_timeout_ms

    # --- public API --------------------------------------------------------------------

    def confirm(self, request: ConfirmRequest) -> Booking:
        """Books exactly ``request.seat_ids`` in one transaction; idempotent on checkout_id.

        A request naming a ``payment_intent_id`` books only while that intent is AUTHORIZED for
        this checkout (the saga always names one); without one, nothing is paid through the
        processor (complimentary seats) and nothing is checked.

        Raises:
            DomainError: INVALID_INPUT / DUPLICATE_SEATS (bad request, or total or currency not
                matching the event's prices), NOT_FOUND (event, seat or user), EVENT_NOT_ON_SALE,
                INVALID_PAYMENT_STATE (the payment is not this checkout's live authorization),
                SEATS_UNAVAILABLE (``details["seat_ids"]``: the seats lost), LOCK_CONTENTION.
        """
        checked = check_confirm_request(request)
        for attempt in range(REFERENCE_ATTEMPTS):
            reference = booking_reference(checked.checkout_id, attempt)
            try:
                with self._transaction() as conn:
                    return self._confirm_in(conn, checked, reference)
            except IntegrityError as exc:
                name = _constraint_name(exc)
                if name == UQ_CHECKOUT:
                    # A concurrent confirm of the same checkout committed first: its booking
                    # is the answer (a retried activity must not book twice).
                    existing = self.get_by_checkout(checked.checkout_id)
                    if existing is not None:
                        return existing
                    raise
                if name == UQ_REFERENCE:
                    continue
                if name == UQ_ACTIVE_SEAT:
                    # Only reachable if event_seats and booking_seats disagree; the index
                    # still refuses the double booking.
                    raise DomainError(
                        ErrorCode.SEATS_UNAVAILABLE,
                        "a seat is already in an active booking",
                        seat_ids=list(checked.seat_ids),
                    ) from exc
                if name == FK_USER:
                    raise DomainError(
                        ErrorCode.NOT_FOUND, "unknown user", user_id=checked.user_id
                    ) from exc
                raise
        raise RuntimeError(f"no free booking reference after {REFERENCE_ATTEMPTS} attempts")

    def cancel(self, checkout_id: str) -> Booking | None:
        """Gives the seats back and marks the booking CANCELLED. Idempotent.

        A REFUNDED booking stays REFUNDED. Returns None if the checkout never booked.
        """
        return self._release(checkout_id, BookingStatus.CANCELLED)

    def mark_refunded(self, checkout_id: str) -> Booking | None:
        """Gives the seats back (if still held) and marks the booking REFUNDED. Idempotent."""
        return self._release(checkout_id, BookingStatus.REFUNDED)

    def get_by_checkout(self, checkout_id: str) -> Booking | None:
        checkout = parse_uuid(checkout_id, "checkout_id")
        with self._engine.connect() as conn:
            found = self._load(conn, BookingRow.checkout_id == uuid.UUID(checkout))
        return found[0] if found else None

    def get_by_reference(self, reference: str) -> Booking | None:
        if not isinstance(reference, str) or len(reference) > 20:
            raise DomainError(ErrorCode.INVALID_INPUT, "malformed booking reference")
        with self._engine.connect() as conn:
            found = self._load(conn, BookingRow.reference == reference.strip().upper())
        return found[0] if found else None

    def list_for_user(self, user_id: str) -> list[Booking]:
        """Every booking of the user, newest first."""
        user = parse_uuid(user_id, "user_id")
        with self._engine.connect() as conn:
            return self._load(conn, BookingRow.user_id == uuid.UUID(user))

    # --- the guarded steps (a test subclass removes them to prove the race tests can fail)

    def _lock_seats(
        self, conn: Connection, event_id: uuid.UUID, seat_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, Decimal]]:
        """Row-locks the seats in sorted order: seat -> (status, price modifier)."""
        rows = conn.execute(
            select(EventSeat.seat_id, EventSeat.status, Seat.price_modifier)
            .join(Seat, Seat.id == EventSeat.seat_id)
            .where(EventSeat.event_id == event_id, EventSeat.seat_id.in_(seat_ids))
            .order_by(EventSeat.seat_id)
            .with_for_update(of=EventSeat)
        ).all()
        return {row.seat_id: (row.status, row.price_modifier) for row in rows}

    def _check_available(
        self, seat_ids: list[uuid.UUID], found: dict[uuid.UUID, tuple[str, Decimal]]
    ) -> None:
        missing = [str(s) for s in seat_ids if s not in found]
        if missing:
            raise DomainError(
                ErrorCode.NOT_FOUND, "seats are not part of this event", seat_ids=missing
            )
        taken = [str(s) for s in seat_ids if found[s][0] != SeatStatus.AVAILABLE]
        if taken:
            raise DomainError(
                ErrorCode.SEATS_UNAVAILABLE, "seats are already booked", seat_ids=taken
            )

    def _claim_seats(
        self,
        conn: Connection,
        event_id: uuid.UUID,
        seat_ids: list[uuid.UUID],
        booking_id: uuid.UUID,
    ) -> None:
        claimed = set(
            conn.execute(
                update(EventSeat)
                .where(
                    EventSeat.event_id == event_id,
                    EventSeat.seat_id.in_(seat_ids),
                    EventSeat.status == SeatStatus.AVAILABLE.value,
                )
                .values(status=SeatStatus.BOOKED.value, booking_id=booking_id)
                .returning(EventSeat.seat_id)
            ).scalars()
        )
        if len(claimed) != len(seat_ids):
            lost = sorted(str(s) for s in seat_ids if s not in claimed)
            raise DomainError(
                ErrorCode.SEATS_UNAVAILABLE, "seats were booked concurrently", seat_ids=lost
            )

    # --- plumbing -----------------------------------------------------------------------

    def _transaction(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, self._lock_timeout_ms)

    def _confirm_in(self, conn: Connection, req: CheckedRequest, reference: str) -> Booking:
        existing = self._load(conn, BookingRow.checkout_id == uuid.UUID(req.checkout_id))
        if existing:
            return existing[0]
        event_id = uuid.UUID(req.event_id)
        event = conn.execute(
            select(Event.base_price, Event.currency, Event.status).where(Event.id == event_id)
        ).one_or_none()
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "unknown event", event_id=req.event_id)
        if not accepts_bookings(event.status):
            raise DomainError(
                ErrorCode.EVENT_NOT_ON_SALE, "event is not on sale", status=event.status
            )
        if req.currency != event.currency:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "currency does not match the event's",
                field="currency",
                expected=event.currency,
            )
        self._check_payment(conn, req)
        # The booking row goes first: a concurrent confirm of the same checkout then waits on
        # the checkout_id unique index and ends in the idempotent path, instead of finding
        # "its" seats booked and reporting them lost.
        booking_id = uuid.uuid4()
        created_at = conn.execute(
            insert(BookingRow)
            .values(
                id=booking_id,
                reference=reference,
                checkout_id=uuid.UUID(req.checkout_id),
                user_id=uuid.UUID(req.user_id),
                event_id=event_id,
                total_price=req.total,
                currency=req.currency,
                status=BookingStatus.CONFIRMED.value,
                payment_intent_id=req.payment_intent_id,
            )
            .returning(BookingRow.created_at)
        ).scalar_one()
        seat_ids = _uuids(req.seat_ids)
        found = self._lock_seats(conn, event_id, seat_ids)
        self._check_available(seat_ids, found)
        prices = {s: pricing.seat_price(event.base_price, found[s][1]) for s in seat_ids}
        expected = pricing.total(prices.values())
        if expected != req.total:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "total does not match the seats' prices",
                field="total",
                expected=str(expected),
                got=str(req.total),
            )
        self._claim_seats(conn, event_id, seat_ids, booking_id)
        conn.execute(
            insert(BookingSeat),
            [
                {"booking_id": booking_id, "seat_id": s, "event_id": event_id, "price": prices[s]}
                for s in seat_ids
            ],
        )
        self._after_confirm(conn, event_id)
        return Booking(
            id=str(booking_id),
            reference=reference,
            checkout_id=req.checkout_id,
            user_id=req.user_id,
            event_id=req.event_id,
            seat_ids=req.seat_ids,
            total=req.total,
            currency=req.currency,
            status=BookingStatus.CONFIRMED,
            payment_intent_id=req.payment_intent_id,
            created_at=created_at,
        )

    @staticmethod
    def _check_payment(conn: Connection, req: CheckedRequest) -> None:
        """Refuses unless the named payment is this checkout's live authorization. FOR SHARE:
        a void or capture (FOR UPDATE on the intent) waits until this transaction ends, so the
        intent cannot move between this read and the booking's commit."""
        if req.payment_intent_id is None:
            return
        row = conn.execute(
            select(PaymentIntentRow.status, PaymentIntentRow.checkout_id)
            .where(PaymentIntentRow.id == req.payment_intent_id)
            .with_for_update(read=True)
        ).one_or_none()
        found = None
        if row is not None:
            found = (row.status, None if row.checkout_id is None else str(row.checkout_id))
        refusal = payment_refusal(req.checkout_id, req.payment_intent_id, found)
        if refusal is not None:
            raise refusal

    def _release(self, checkout_id: str, target: BookingStatus) -> Booking | None:
        checkout = uuid.UUID(parse_uuid(checkout_id, "checkout_id"))
        with self._transaction() as conn:
            row = conn.execute(
                select(BookingRow.id, BookingRow.event_id, BookingRow.status)
                .where(BookingRow.checkout_id == checkout)
                .with_for_update()
            ).one_or_none()
            if row is None:
                return None
            status = BookingStatus(row.status)
            if status in HOLDING_STATUSES:
                self._give_back_seats(conn, row.id, row.event_id)
                # Seats are back: a SOLD_OUT event is on sale again, atomically with them.
                follow_inventory(conn, row.event_id)
            new_status = status if status == BookingStatus.REFUNDED else target
            if new_status != status:
                conn.execute(
                    update(BookingRow)
                    .where(BookingRow.id == row.id)
                    .values(status=new_status.value)
                )
            return self._load(conn, BookingRow.id == row.id)[0]

    def _give_back_seats(
        self, conn: Connection, booking_id: uuid.UUID, event_id: uuid.UUID
    ) -> None:
        seat_ids = list(
            conn.execute(
                select(BookingSeat.seat_id).where(
                    BookingSeat.booking_id == booking_id, BookingSeat.released_at.is_(None)
                )
            ).scalars()
        )
        if not seat_ids:
            return
        # Same sorted lock order as confirm, so a cancel and a confirm never deadlock.
        conn.execute(
            select(EventSeat.seat_id)
            .where(EventSeat.event_id == event_id, EventSeat.seat_id.in_(seat_ids))
            .order_by(EventSeat.seat_id)
            .with_for_update()
        )
        conn.execute(
            update(EventSeat)
            .where(
                EventSeat.event_id == event_id,
                EventSeat.seat_id.in_(seat_ids),
                EventSeat.booking_id == booking_id,
            )
            .values(status=SeatStatus.AVAILABLE.value, booking_id=None)
        )
        conn.execute(
            update(BookingSeat)
            .where(BookingSeat.booking_id == booking_id, BookingSeat.released_at.is_(None))
            .values(released_at=func.now())
        )

    def _after_confirm(self, conn: Connection, event_id: uuid.UUID) -> None:
        """SOLD_OUT when this booking took the last sellable seat, in the booking's transaction.

        The fast path takes no event lock: an AVAILABLE seat that no other transaction has
        locked (``SKIP LOCKED``) stays sellable whatever the confirms in flight do, so the
        event is not sold out and a later confirm that takes it checks again. Otherwise the
        event row is locked: confirms and releases decide one after another, each seeing the
        seats the previous ones committed, so the last one sees the true count.
        """
        free = conn.execute(
            select(EventSeat.seat_id)
            .where(
                EventSeat.event_id == event_id,
                EventSeat.status == SeatStatus.AVAILABLE.value,
            )
            .limit(1)
            .with_for_update(read=True, key_share=True, skip_locked=True)
        ).first()
        if free is None:
            follow_inventory(conn, event_id, confirming=True)

    def _load(self, conn: Connection, condition: ColumnElement[bool]) -> list[Booking]:
        rows = conn.execute(
            select(BookingRow.__table__)
            .where(condition)
            .order_by(BookingRow.created_at.desc(), BookingRow.id.desc())
        ).all()
        if not rows:
            return []
        seats: dict[uuid.UUID, list[str]] = {row.id: [] for row in rows}
        for booking_id, seat_id in conn.execute(
            select(BookingSeat.booking_id, BookingSeat.seat_id)
            .where(BookingSeat.booking_id.in_(list(seats)))
            .order_by(BookingSeat.seat_id)
        ):
            seats[booking_id].append(str(seat_id))
        return [
            Booking(
                id=str(row.id),
                reference=row.reference,
                checkout_id=str(row.checkout_id),
                user_id=str(row.user_id),
                event_id=str(row.event_id),
                seat_ids=tuple(sorted(seats[row.id])),
                total=row.total_price,
                currency=row.currency,
                status=BookingStatus(row.status),
                payment_intent_id=row.payment_intent_id,
                created_at=row.created_at,
            )
            for row in rows
        ]
