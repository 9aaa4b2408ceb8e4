"""The sandbox card processor: Stripe PaymentIntent semantics, state in PostgreSQL.

Lifecycle: authorize -> AUTHORIZED (funds held) -> capture -> CAPTURED -> refund -> REFUNDED,
or AUTHORIZED -> void -> VOIDED; a declined card leaves a DECLINED intent. Every call carries an
idempotency key: the first call with a key records its parameters' fingerprint and its outcome
in ``payment_operations``; a repeat with the same parameters replays that outcome (same intent,
same error, no second effect), a repeat with other parameters is IDEMPOTENCY_CONFLICT.

Refusals of the input or of the intent's state (INVALID_INPUT, NOT_FOUND,
INVALID_PAYMENT_STATE, IDEMPOTENCY_CONFLICT) roll back and record nothing, so the key stays
free. Processor outcomes (declined, timed out, capture failed) are recorded, like a real
processor's.

The module also holds the pure rules (tokens, fingerprints, transitions) that the in-memory
fake in ``adapters/fakes/payments.py`` shares, so both behave the same by construction and the
contract suite checks they do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from adapters.db import transaction
from adapters.orm import BookingRow, PaymentIntentRow, PaymentOperation
from domain.errors import DomainError, ErrorCode
from domain.model import BookingStatus, PaymentIntent, PaymentStatus
from domain.validation import (
    parse_uuid,
    validate_amount,
    validate_currency,
    validate_payment_token,
)

# --- test card tokens (Stripe's names where Stripe has one) ---
TOKEN_APPROVE = "tok_visa"  # also what a missing token means in the sandbox
TOKEN_DECLINE = "tok_chargeDeclinedInsufficientFunds"
TOKEN_TIMEOUT_ONCE = "tok_timeoutOnce"  # the first authorize attempt per key times out
TOKEN_CAPTURE_FAILS = "tok_captureFails"  # authorizes, but every capture fails
# Slow cards: the processor does the operation at once but answers SLOW_CARD_SECONDS later, so
# a fault test (``make chaos``) can kill a worker while that saga step is in flight, after the
# effect and before the saga records it (the retry must replay the recorded outcome).
TOKEN_SLOW_AUTHORIZE = "tok_slowAuthorize"  # approves; every authorize answers late
TOKEN_SLOW_CAPTURE = "tok_slowCapture"  # approves; every capture answers late
TOKEN_CAPTURE_FAILS_SLOW_VOID = "tok_captureFailsSlowVoid"  # captures fail; voids answer late
SLOW_CARD_SECONDS = 2.0  # well inside a forward step's 10 s attempt
_CAPTURE_FAILS = frozenset({TOKEN_CAPTURE_FAILS, TOKEN_CAPTURE_FAILS_SLOW_VOID})
_SLOW: dict[str, str] = {
    TOKEN_SLOW_AUTHORIZE: "authorize",
    TOKEN_SLOW_CAPTURE: "capture",
    TOKEN_CAPTURE_FAILS_SLOW_VOID: "void",
}
TEST_TOKENS = frozenset(
    {TOKEN_APPROVE, TOKEN_DECLINE, TOKEN_TIMEOUT_ONCE, TOKEN_CAPTURE_FAILS, *_SLOW}
)

DECLINE_CODE = "insufficient_funds"  # Stripe's decline_code, in the error details
MAX_KEY_LENGTH = 200  # payment_operations.key
_INTENT_ID_RE = re.compile(r"pi_[0-9a-f]{24}")


class Operation(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class Outcome(StrEnum):
    """What a recorded operation did; a replay with the same key repeats it."""

    SUCCEEDED = "SUCCEEDED"  # the intent moved (or was created AUTHORIZED)
    NOOP = "NOOP"  # compensation on an intent already in the wanted state
    DECLINED = "DECLINED"
    TIMEOUT = "TIMEOUT"  # nothing happened; the next attempt with the key goes through
    CAPTURE_FAILED = "CAPTURE_FAILED"


@dataclass(frozen=True)
class AuthorizeRequest:
    key: str
    amount: Decimal
    currency: str
    token: str
    checkout_id: str | None

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            Operation.AUTHORIZE,
            str(self.amount),
            self.currency,
            self.token,
            self.checkout_id or "",
        )


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"idempotency key must be 1..{MAX_KEY_LENGTH} characters",
            field="key",
        )
    return key


def check_intent_id(intent_id: str) -> str:
    if not isinstance(intent_id, str) or not _INTENT_ID_RE.fullmatch(intent_id):
        raise DomainError(ErrorCode.INVALID_INPUT, "not a payment intent id", field="intent_id")
    return intent_id


def check_card_token(token: str | None) -> str:
    """The card the sandbox charges for ``token`` (none given: the approving one). The API
    asks it before a payment reaches the saga, so an unknown token is bad input that changes
    nothing, not a failed checkout.

    Raises:
        DomainError: INVALID_INPUT for a malformed token or one the sandbox does not know.
    """
    card = validate_payment_token(token) or TOKEN_APPROVE
    if card not in TEST_TOKENS:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "unknown test card token",
            field="payment_token",
            known=sorted(TEST_TOKENS),
        )
    return card


def check_authorize(
    key: str, amount: Decimal, currency: str, token: str | None, checkout_id: str | None
) -> AuthorizeRequest:
    """Validates and normalises an authorize call (``"usd"`` and ``"USD"`` are one request)."""
    card = check_card_token(token)
    return AuthorizeRequest(
        key=check_key(key),
        amount=validate_amount(amount),
        currency=validate_currency(currency),
        token=card,
        checkout_id=None if checkout_id is None else parse_uuid(checkout_id, "checkout_id"),
    )


def fingerprint(operation: Operation, *params: str) -> str:
    # The operation is part of the fingerprint: reusing an authorize key for a capture is a
    # conflict, not a replay.
    return hashlib.sha256("\x1f".join((operation, *params)).encode()).hexdigest()


def new_intent_id() -> str:
    return "pi_" + secrets.token_hex(12)


def history_for(status: PaymentStatus) -> tuple[str, ...]:
    """Statuses the intent went through. The lifecycle is a tree, so the path is unique."""
    path = {
        PaymentStatus.AUTHORIZED: (PaymentStatus.AUTHORIZED,),
        PaymentStatus.CAPTURED: (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED),
        PaymentStatus.REFUNDED: (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.REFUNDED,
        ),
        PaymentStatus.VOIDED: (PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED),
        PaymentStatus.DECLINED: (PaymentStatus.DECLINED,),
    }[status]
    return tuple(str(s) for s in path)


# find_by_checkout prefers the intent that holds or took money: that is the one a
# compensation must void or refund. Declined intents come last.
FIND_RANK = {
    PaymentStatus.AUTHORIZED: 0,
    PaymentStatus.CAPTURED: 0,
    PaymentStatus.REFUNDED: 1,
    PaymentStatus.VOIDED: 1,
    PaymentStatus.DECLINED: 2,
}


def answer_late(token: str | None, operation: str) -> None:
    """A slow card's late answer (the effect is already committed, like a real processor's
    reply lost or delayed on the way back)."""
    if token is not None and _SLOW.get(token) == operation:
        time.sleep(SLOW_CARD_SECONDS)


def authorize_outcome(token: str, retried: bool) -> Outcome:
    """The sandbox's decision for an authorize attempt that has no final recorded outcome."""
    if token == TOKEN_DECLINE:
        return Outcome.DECLINED
    if token == TOKEN_TIMEOUT_ONCE and not retried:
        return Outcome.TIMEOUT
    return Outcome.SUCCEEDED


def plan_transition(
    operation: Operation, intent_id: str, status: PaymentStatus, token: str
) -> tuple[PaymentStatus, Outcome]:
    """New status and outcome of capture/void/refund on an intent in ``status``.

    Void of a VOIDED or DECLINED intent and refund of a REFUNDED one are no-ops, because saga
    compensations are retried until done and must not fail on their own earlier success.

    Raises:
        DomainError: INVALID_PAYMENT_STATE for any other transition.
    """
    S = PaymentStatus
    if operation is Operation.CAPTURE and status is S.AUTHORIZED:
        if token in _CAPTURE_FAILS:
            return status, Outcome.CAPTURE_FAILED
        return S.CAPTURED, Outcome.SUCCEEDED
    if operation is Operation.VOID:
        if status is S.AUTHORIZED:
            return S.VOIDED, Outcome.SUCCEEDED
        if status in (S.VOIDED, S.DECLINED):
            return status, Outcome.NOOP
    if operation is Operation.REFUND:
        if status is S.CAPTURED:
            return S.REFUNDED, Outcome.SUCCEEDED
        if status is S.REFUNDED:
            return status, Outcome.NOOP
    raise DomainError(
        ErrorCode.INVALID_PAYMENT_STATE,
        f"cannot {operation} a payment that is {status}",
        intent_id=intent_id,
        status=str(status),
        operation=str(operation),
    )


def outcome_error(outcome: Outcome, intent_id: str | None, key: str) -> DomainError | None:
    """The error a recorded outcome raises, on the first call and on every replay."""
    if outcome is Outcome.DECLINED:
        return DomainError(
            ErrorCode.PAYMENT_DECLINED,
            "the card was declined",
            intent_id=intent_id,
            decline_code=DECLINE_CODE,
        )
    if outcome is Outcome.TIMEOUT:
        return DomainError(ErrorCode.PAYMENT_TIMEOUT, "the processor timed out", key=key)
    if outcome is Outcome.CAPTURE_FAILED:
        return DomainError(ErrorCode.CAPTURE_FAILED, "the capture failed", intent_id=intent_id)
    return None


def conflict_error(key: str, recorded_operation: str) -> DomainError:
    return DomainError(
        ErrorCode.IDEMPOTENCY_CONFLICT,
        "this idempotency key was used with other parameters",
        key=key,
        operation=recorded_operation,
    )


def not_found_error(intent_id: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "no such payment intent", intent_id=intent_id)


_INTENTS = PaymentIntentRow.__table__
_OPS = PaymentOperation.__table__
_BOOKINGS = BookingRow.__table__


def _to_intent(row: Any) -> PaymentIntent:
    status = PaymentStatus(row.status)
    return PaymentIntent(
        id=row.id,
        amount=row.amount,
        currency=row.currency,
        status=status,
        token=row.token,
        checkout_id=None if row.checkout_id is None else str(row.checkout_id),
        failure_code=row.failure_code,
        history=history_for(status),
    )


class SandboxPayments:
    """The ``Payments`` port on PostgreSQL.

    Concurrency: the first statement of every call is ``INSERT ... ON CONFLICT DO NOTHING`` on
    the key, so concurrent calls with one key queue behind the first one's transaction and then
    replay its committed outcome; transitions lock the intent row (``FOR UPDATE``), so capture
    and void with different keys cannot both win. Waiting longer than ``lock_timeout_ms``
    raises the driver's error, a transport failure that the caller retries.
    """

    def __init__(self, engine: Engine, lock_timeout_ms: int = 2000) -> None:
        self._engine = engine
        self._lock_timeout_ms = lock_timeout_ms

    def _transaction(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, self._lock_timeout_ms)

    def _claim(self, conn: Connection, key: str, operation: Operation, params: str) -> Any:
        """Records the key, or returns the committed record of an earlier call with it."""
        inserted = conn.execute(
            pg_insert(_OPS)
            .values(key=key, operation=str(operation), params_hash=params, outcome="PENDING")
            .on_conflict_do_nothing(index_elements=[_OPS.c.key])
            .returning(_OPS.c.key)
        ).first()
        if inserted is not None:
            return None
        prior = conn.execute(select(_OPS).where(_OPS.c.key == key).with_for_update()).one()
        if prior.params_hash != params:
            raise conflict_error(key, prior.operation)
        conn.execute(update(_OPS).where(_OPS.c.key == key).values(attempts=_OPS.c.attempts + 1))
        return prior

    @staticmethod
    def _record(conn: Connection, key: str, outcome: Outcome, intent_id: str | None) -> None:
        conn.execute(
            update(_OPS).where(_OPS.c.key == key).values(outcome=str(outcome), intent_id=intent_id)
        )

    @staticmethod
    def _load(conn: Connection, intent_id: str, lock: bool = False) -> PaymentIntent | None:
        query = select(_INTENTS).where(_INTENTS.c.id == intent_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        return None if row is None else _to_intent(row)

    def authorize(
        self,
        key: str,
        amount: Decimal,
        currency: str,
        token: str | None,
        checkout_id: str | None = None,
    ) -> PaymentIntent:
        request = check_authorize(key, amount, currency, token, checkout_id)
        error: DomainError | None = None
        with self._transaction() as conn:
            prior = self._claim(conn, request.key, Operation.AUTHORIZE, request.fingerprint)
            if prior is not None and Outcome(prior.outcome) is not Outcome.TIMEOUT:
                intent = self._load(conn, prior.intent_id)
                error = outcome_error(Outcome(prior.outcome), prior.intent_id, request.key)
            else:
                outcome = authorize_outcome(request.token, retried=prior is not None)
                intent = None
                if outcome is not Outcome.TIMEOUT:
                    declined = outcome is Outcome.DECLINED
                    intent_id = new_intent_id()
                    conn.execute(
                        _INTENTS.insert().values(
                            id=intent_id,
                            checkout_id=request.checkout_id,
                            amount=request.amount,
                            currency=request.currency,
                            status=PaymentStatus.DECLINED if declined else PaymentStatus.AUTHORIZED,
                            token=request.token,
                            failure_code=str(ErrorCode.PAYMENT_DECLINED) if declined else None,
                        )
                    )
                    intent = self._load(conn, intent_id)
                self._record(conn, request.key, outcome, intent.id if intent else None)
                error = outcome_error(outcome, intent.id if intent else None, request.key)
        # raised after the commit: a decline or a timeout is recorded, not rolled back
        answer_late(request.token, Operation.AUTHORIZE)
        if error is not None:
            raise error
        assert intent is not None
        return intent

    def _transition(self, operation: Operation, intent_id: str, key: str) -> PaymentIntent:
        intent_id = check_intent_id(intent_id)
        key = check_key(key)
        with self._transaction() as conn:
            prior = self._claim(conn, key, operation, fingerprint(operation, intent_id))
            if prior is not None:
                outcome = Outcome(prior.outcome)
                intent = self._load(conn, intent_id)
            else:
                current = self._load(conn, intent_id, lock=True)
                if current is None:
                    raise not_found_error(intent_id)
                status, outcome = plan_transition(
                    operation, intent_id, current.status, current.token
                )
                values: dict[str, Any] = {}
                if status is not current.status:
                    values["status"] = str(status)
                if outcome is Outcome.CAPTURE_FAILED:
                    values["failure_code"] = str(ErrorCode.CAPTURE_FAILED)
                if values:
                    conn.execute(
                        update(_INTENTS)
                        .where(_INTENTS.c.id == intent_id)
                        .values(**values, updated_at=func.now())
                    )
                self._record(conn, key, outcome, intent_id)
                intent = self._load(conn, intent_id)
        error = outcome_error(outcome, intent_id, key)
        answer_late(intent.token if intent is not None else None, operation)
        if error is not None:
            raise error
        assert intent is not None
        return intent

    def capture(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.CAPTURE, intent_id, key)

    def void(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.VOID, intent_id, key)

    def refund(self, intent_id: str, key: str) -> PaymentIntent:
        return self._transition(Operation.REFUND, intent_id, key)

    def get(self, intent_id: str) -> PaymentIntent | None:
        if not isinstance(intent_id, str) or not _INTENT_ID_RE.fullmatch(intent_id):
            return None
        with self._engine.connect() as conn:
            return self._load(conn, intent_id)

    def find_by_checkout(self, checkout_id: str) -> PaymentIntent | None:
        """The checkout's intent that holds or took money, else its latest other intent.

        Raises:
            DomainError: INVALID_INPUT if ``checkout_id`` is not a UUID.
        """
        checkout = parse_uuid(checkout_id, "checkout_id")
        rank = case(
            *((_INTENTS.c.status == str(status), r) for status, r in FIND_RANK.items()),
            else_=len(FIND_RANK),
        )
        query = (
            select(_INTENTS)
            .where(_INTENTS.c.checkout_id == checkout)
            .order_by(rank, _INTENTS.c.created_at.desc(), _INTENTS.c.id)
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _to_intent(row)

    def captured_without_booking(self) -> list[PaymentIntent]:
        confirmed = exists().where(
            and_(
                _BOOKINGS.c.checkout_id == _INTENTS.c.checkout_id,
                _BOOKINGS.c.status == str(BookingStatus.CONFIRMED),
            )
        )
        query = (
            select(_INTENTS)
            .where(_INTENTS.c.status == str(PaymentStatus.CAPTURED), ~confirmed)
            .order_by(_INTENTS.c.created_at, _INTENTS.c.id)
        )
        with self._engine.connect() as conn:
            return [_to_intent(row) for row in conn.execute(query)]
