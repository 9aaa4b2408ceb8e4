"""The void step against a late capture: one that lands between its read and its write."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import pytest
from temporalio.exceptions import ApplicationError

from activities.checkout import CheckoutActivities, CheckoutRef, capture_key
from adapters.fakes.payments import InMemoryPayments
from adapters.fakes.seat_locks import InMemorySeatLocks
from adapters.payments import TOKEN_APPROVE
from domain.model import PaymentIntent, PaymentStatus
from tests.factories import MemoryWorld


class NoSeatMap:
    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None:
        return None


class CaptureLandsFirst(InMemoryPayments):
    """Payments where the capture step's late attempt commits just before the saga's void:
    the void then finds the intent CAPTURED although the compensation read it AUTHORIZED."""

    def __init__(self, late_captures: int = 1) -> None:
        super().__init__()
        self.late_captures = late_captures
        self.voids = 0

    def void(self, intent_id: str, key: str) -> PaymentIntent:
        self.voids += 1
        if self.late_captures:
            self.late_captures -= 1
            intent = self.get(intent_id)
            assert intent is not None and intent.checkout_id is not None
            self.capture(intent_id, capture_key(intent.checkout_id))
        return super().void(intent_id, key)


def _void_step(payments: InMemoryPayments) -> CheckoutActivities:
    world = MemoryWorld()
    return CheckoutActivities(
        locks=InMemorySeatLocks(),
        catalog=world.catalog,
        bookings=world.store,
        payments=payments,
        seat_map=NoSeatMap(),
        default_payment_token=None,
    )


def _authorized(payments: InMemoryPayments) -> str:
    checkout = str(uuid.uuid4())
    payments.authorize(
        f"authorize:{checkout}", Decimal("20.00"), "USD", TOKEN_APPROVE, checkout_id=checkout
    )
    return checkout


def test_a_capture_between_the_read_and_the_void_ends_refunded() -> None:
    payments = CaptureLandsFirst()
    checkout = _authorized(payments)

    answer = _void_step(payments).void_or_refund_payment(CheckoutRef(checkout))

    intent = payments.find_by_checkout(checkout)
    assert intent is not None
    assert (answer, intent.status) == ("REFUNDED", PaymentStatus.REFUNDED)
    assert payments.voids == 1  # the void was refused and not tried again on a captured intent


def test_without_a_race_the_authorization_is_voided() -> None:
    payments = CaptureLandsFirst(late_captures=0)
    checkout = _authorized(payments)

    assert _void_step(payments).void_or_refund_payment(CheckoutRef(checkout)) == "VOIDED"


def test_other_refusals_still_fail_the_step() -> None:
    class Broken(InMemoryPayments):
        def find_by_checkout(self, checkout_id: str) -> PaymentIntent | None:
            intent = super().find_by_checkout(checkout_id)
            assert intent is not None
            # an id the processor does not know: NOT_FOUND, which no re-read changes
            return PaymentIntent(**{**intent.__dict__, "id": "pi_" + "f" * 24})

    payments = Broken()
    checkout = _authorized(payments)

    with pytest.raises(ApplicationError) as err:
        _void_step(payments).void_or_refund_payment(CheckoutRef(checkout))
    assert err.value.type == "NOT_FOUND"
