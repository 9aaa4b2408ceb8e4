"""In-memory ``Payments`` with the sandbox processor's semantics, for fast workflow tests.

It shares the sandbox's rules (``adapters/payments.py``: tokens, fingerprints, transitions);
``tests/integration/test_payments_contract.py`` holds both to one contract.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from adapters.payments import (
    FIND_RANK,
    Operation,
    Outcome,
    authorize_outcome,
    check_authorize,
    check_intent_id,
    check_key,
    conflict_error,
    fingerprint,
    history_for,
    new_intent_id,
    not_found_error,
    outcome_error,
    plan_transition,
)
from domain.errors import ErrorCode
from domain.model import PaymentIntent, PaymentStatus
from domain.validation import parse_uuid


@dataclass
class _Record:
    operation: Operation
    params_hash: str
    outcome: Outcome
    intent_id: str | None
    attempts: int = 1


def _no_bookings() -> set[str]:
    return set()


class InMemoryPayments:
    """Thread-safe: one mutex makes every call atomic, as the sandbox's row locks do per key.

    ``confirmed_checkout_ids`` stands in for the ``bookings`` table in
    ``captured_without_booking``: it returns the checkout ids that have a CONFIRMED booking.
    """

    def __init__(self, confirmed_checkout_ids: Callable[[], set[str]] = _no_bookings) -> None:
        self._confirmed_checkout_ids = confirmed_checkout_ids
        self._intents: dict[str, PaymentIntent] = {}
        self._records: dict[str, _Record] = {}
        self._mutex = threading.Lock()

    def counts(self) -> tuple[int, int]:
        """(intents, idempotency records): lets tests check that a refusal recorded nothing."""
        with self._mutex:
            return len(self._intents), len(self._records)

    def _replay(self, key: str, operation: Operation, params: str) -> _Record | None:
        prior = self._records.get(key)
        if prior is None:
            return None
        if prior.params_hash != params:
            raise conflict_error(key, prior.operation)
        prior.attempts += 1
        return prior

    def authorize(
        self,
        key: str,
        amount: Decimal,
        currency: str,
        token: str | None,
        checkout_id: str | None = None,
    ) -> PaymentIntent:
        request = check_authorize(key, amount, currency, token, checkout_id)
        with self._mutex:
            prior = self._replay(request.key, Operation.AUTHORIZE, request.fingerprint)
            if prior is not None and prior.outcome is not Outcome.TIMEOUT:
                outcome, intent_id = prior.outcome, prior.intent_id
            else:
                outcome = authorize_outcome(request.token, retried=prior is not None)
                intent_id = None
                if outcome is not Outcome.TIMEOUT:
                    declined = outcome is Outcome.DECLINED
                    status = PaymentStatus.DECLINED if declined else PaymentStatus.AUTHORIZED
                    intent_id = new_intent_id()
                    self._intents[intent_id] = PaymentIntent(
                        id=intent_id,
                        amount=request.amount,
                        currency=request.currency,
                        status=status,
                        token=request.token,
                        checkout_id=request.checkout_id,
                        failure_code=str(ErrorCode.PAYMENT_DECLINED) if declined else None,
                        history=history_for(status),
                    )
                if prior is None:
                    self._records[request.key] = _Record(
                        Operation.AUTHORIZE, request.fingerprint, outcome, intent_id
                    )
                else:
                    prior.outcome, prior.intent_id = outcome, intent_id
            error = outcome_error(outcome, intent_id, request.key)
            if error is not None:
                raise error
            assert intent_id is not None
            return self._intents[intent_id]

    def _transition(self, operation: Operation, intent_id: str, key: str) -> PaymentIntent:
        intent_id = check_intent_id(intent_id)
        key = check_key(key)
        params = fingerprint(operation, intent_id)
        with self._mutex:
            prior = self._replay(key, operation, params)
            if prior is not None:
                outcome = prior.outcome
            else:
                current = self._intents.get(intent_id)
                if current is None:
                    raise not_found_error(intent_id)
                status, outcome = plan_transition(
                    operation, intent_id, current.status, current.token
                )
                failure_code = (
                    str(ErrorCode.CAPTURE_FAILED)
                    if outcome is Outcome.CAPTURE_FAILED
                    else current.failure_code
                )
                self._intents[intent_id] = dataclasses.replace(
                    current, status=status, failure_code=failure_code, history=history_for(status)
                )
                self._records[key] = _Record(operation, params, outcome, intent_id)
            error = outcome_error(outcome, intent_id, key)
            if error is not None:
                raise error
            return self._intents[intent_id]

    def capture(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.CAPTURE, intent_id, key)

    def void(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.VOID, intent_id, key)

    def refund(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.REFUND, intent_id, key)

    def get(self, intent_id: str) -> PaymentIntent | None:
        with self._mutex:
            return self._intents.get(intent_id) if isinstance(intent_id, str) else None

    def find_by_checkout(self, checkout_id: str) -> PaymentIntent | None:
        checkout = parse_uuid(checkout_id, "checkout_id")
        with self._mutex:
            # newest first, then the stable sort keeps that order within a rank
            mine = [i for i in reversed(self._intents.values()) if i.checkout_id == checkout]
        mine.sort(key=lambda intent: FIND_RANK[intent.status])
        return mine[0] if mine else None

    def captured_without_booking(self) -> list[PaymentIntent]:
        confirmed = self._confirmed_checkout_ids()
        with self._mutex:
            return [
                intent
                for intent in self._intents.values()
                if intent.status is PaymentStatus.CAPTURED
                and (intent.checkout_id is None or intent.checkout_id not in confirmed)
            ]
