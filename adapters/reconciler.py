"""What the reconciler reads from PostgreSQL: money and bookings that disagree, settled for a
while (``older_than``), so a saga still at work is never picked up.

The "captured without a confirmed booking" rule is the payment ledger's own
(``SandboxPayments.captured_without_booking``, which the invariant checker's ``check_payments``
uses too); this module only adds the age. The other two rules are the reconciler's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from adapters.payments import SandboxPayments
from domain.model import PaymentIntent

SETTLED = text(
    "SELECT id FROM payment_intents WHERE id = ANY(:ids) AND updated_at < :cutoff ORDER BY id"
)

# AUTHORIZED (funds held) while no booking of the checkout is CONFIRMED: either its saga is
# still deciding, or nothing will ever capture or void it.
AUTHORIZED_WITHOUT_BOOKING = text(
    """
    SELECT p.id, p.checkout_id::text AS checkout_id
    FROM payment_intents p
    WHERE p.status = 'AUTHORIZED' AND p.updated_at < :cutoff
      AND NOT EXISTS (
        SELECT 1 FROM bookings b WHERE b.checkout_id = p.checkout_id AND b.status = 'CONFIRMED'
      )
    ORDER BY p.created_at, p.id
    """
)

# A CONFIRMED booking whose payment is not CAPTURED: authorized only, voided, refunded,
# declined or missing.
CONFIRMED_NOT_CAPTURED = text(
    """
    SELECT b.checkout_id::text AS checkout_id, b.reference, b.event_id::text AS event_id,
           p.id AS intent_id, p.status AS payment_status, p.created_at AS authorized_at
    FROM bookings b
    LEFT JOIN payment_intents p ON p.id = b.payment_intent_id
    WHERE b.status = 'CONFIRMED' AND b.updated_at < :cutoff
      AND (p.id IS NULL OR p.status <> 'CAPTURED')
    ORDER BY b.created_at, b.id
    """
)


@dataclass(frozen=True)
class OrphanAuthorization:
    intent_id: str
    checkout_id: str | None


@dataclass(frozen=True)
class UnpaidBooking:
    checkout_id: str
    reference: str
    event_id: str
    intent_id: str | None
    payment_status: str | None  # None: no payment intent at all
    authorized_at: datetime | None


class ReconcilerStore:
    """Read-only queries; the repairs go through the payments and booking adapters."""

    def __init__(self, engine: Engine, payments: SandboxPayments) -> None:
        self._engine = engine
        self._payments = payments

    def _settled(self, ids: Sequence[str], cutoff: datetime) -> set[str]:
        if not ids:
            return set()
        with self._engine.connect() as conn:
            return set(conn.execute(SETTLED, {"ids": list(ids), "cutoff": cutoff}).scalars())

    def captured_without_booking(self, older_than: datetime) -> list[PaymentIntent]:
        captured = self._payments.captured_without_booking()
        settled = self._settled([intent.id for intent in captured], older_than)
        return [intent for intent in captured if intent.id in settled]

    def authorized_without_booking(self, older_than: datetime) -> list[OrphanAuthorization]:
        with self._engine.connect() as conn:
            rows = conn.execute(AUTHORIZED_WITHOUT_BOOKING, {"cutoff": older_than})
            return [OrphanAuthorization(row.id, row.checkout_id) for row in rows]

    def confirmed_not_captured(self, older_than: datetime) -> list[UnpaidBooking]:
        with self._engine.connect() as conn:
            rows = conn.execute(CONFIRMED_NOT_CAPTURED, {"cutoff": older_than})
            return [
                UnpaidBooking(
                    checkout_id=row.checkout_id,
                    reference=row.reference,
                    event_id=row.event_id,
                    intent_id=row.intent_id,
                    payment_status=row.payment_status,
                    authorized_at=row.authorized_at,
                )
                for row in rows
            ]
