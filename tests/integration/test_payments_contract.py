"""One contract for the payment sandbox: the PostgreSQL adapter and the in-memory fake."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adapters.fakes.payments import InMemoryPayments
from adapters.orm import BookingRow, Event, PaymentIntentRow, PaymentOperation, User, Venue
from adapters.payments import (
    TOKEN_APPROVE,
    TOKEN_CAPTURE_FAILS,
    TOKEN_DECLINE,
    TOKEN_TIMEOUT_ONCE,
    SandboxPayments,
)
from domain.errors import DomainError, ErrorCode
from domain.model import PaymentIntent, PaymentStatus

S = PaymentStatus
AMOUNT = Decimal("42.50")


@dataclass
class Backend:
    payments: Any  # SandboxPayments | InMemoryPayments: both implement domain.ports.Payments
    counts: Callable[[], tuple[int, int]]  # (intents, idempotency records)
    confirm_booking: Callable[[str], None]  # gives a checkout id a CONFIRMED booking


def _sql_counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        intents = conn.execute(select(func.count()).select_from(PaymentIntentRow)).scalar_one()
        ops = conn.execute(select(func.count()).select_from(PaymentOperation)).scalar_one()
    return intents, ops


def _insert_confirmed_booking(engine: Engine, checkout_id: str) -> None:
    # tests/factories.py did not exist when this was written: the minimal rows, by hand
    suffix = uuid.uuid4().hex
    with engine.begin() as conn:
        venue_id = conn.execute(
            Venue.__table__.insert()
            .values(name=f"payments-venue-{suffix}", address="1 Test St", total_capacity=1)
            .returning(Venue.__table__.c.id)
        ).scalar_one()
        event_id = conn.execute(
            Event.__table__.insert()
            .values(
                venue_id=venue_id,
                name="payments test",
                event_date=datetime(2030, 1, 1, tzinfo=UTC),
                status="ON_SALE",
                base_price=AMOUNT,
                max_capacity=1,
            )
            .returning(Event.__table__.c.id)
        ).scalar_one()
        user_id = conn.execute(
            User.__table__.insert()
            .values(
                email=f"{suffix}@payments.test",
                first_name="Pay",
                last_name="Ments",
                password_hash="not-a-real-hash",
            )
            .returning(User.__table__.c.id)
        ).scalar_one()
        conn.execute(
            BookingRow.__table__.insert().values(
                reference=suffix[:12].upper(),
                checkout_id=checkout_id,
                user_id=user_id,
                event_id=event_id,
                total_price=AMOUNT,
                currency="USD",
                status="CONFIRMED",
            )
        )


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        confirmed: set[str] = set()
        fake = InMemoryPayments(confirmed_checkout_ids=lambda: set(confirmed))
        yield Backend(fake, fake.counts, confirmed.add)
    else:
        engine: Engine = request.getfixturevalue("engine")
        yield Backend(
            SandboxPayments(engine),
            lambda: _sql_counts(engine),
            lambda checkout_id: _insert_confirmed_booking(engine, checkout_id),
        )


def key() -> str:
    return f"test-{uuid.uuid4()}"


def checkout() -> str:
    return str(uuid.uuid4())


def authorize(b: Backend, token: str | None = TOKEN_APPROVE, **kw: Any) -> PaymentIntent:
    args: dict[str, Any] = {"amount": AMOUNT, "currency": "USD", "checkout_id": checkout()}
    args.update(kw)
    return b.payments.authorize(args.pop("key", key()), token=token, **args)


def raises(code: ErrorCode, call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as info:
        call()
    assert info.value.code is code, info.value
    return info.value


# --- the happy paths -------------------------------------------------------------------------


def test_authorize_creates_an_authorized_intent(backend: Backend) -> None:
    checkout_id = checkout()
    intent = authorize(backend, checkout_id=checkout_id.upper(), currency="usd")
    assert re.fullmatch(r"pi_[0-9a-f]{24}", intent.id)
    assert intent.status is S.AUTHORIZED
    assert intent.amount == AMOUNT
    assert intent.currency == "USD"
    assert intent.token == TOKEN_APPROVE
    assert intent.checkout_id == checkout_id
    assert intent.failure_code is None
    assert intent.history == ("AUTHORIZED",)
    assert backend.payments.get(intent.id) == intent


@pytest.mark.parametrize("token", [None, "", "  "])
def test_missing_token_means_the_approving_card(backend: Backend, token: str | None) -> None:
    intent = authorize(backend, token=token)
    assert intent.status is S.AUTHORIZED
    assert intent.token == TOKEN_APPROVE


def test_authorize_without_checkout(backend: Backend) -> None:
    intent = authorize(backend, checkout_id=None)
    assert intent.checkout_id is None
    assert backend.payments.get(intent.id) == intent


def test_capture_then_refund(backend: Backend) -> None:
    intent = authorize(backend)
    captured = backend.payments.capture(intent.id, key())
    assert captured.status is S.CAPTURED
    assert captured.history == ("AUTHORIZED", "CAPTURED")
    refunded = backend.payments.refund(intent.id, key())
    assert refunded.status is S.REFUNDED
    assert refunded.history == ("AUTHORIZED", "CAPTURED", "REFUNDED")
    assert backend.payments.get(intent.id) == refunded
    assert (refunded.id, refunded.amount, refunded.checkout_id) == (
        intent.id,
        intent.amount,
        intent.checkout_id,
    )


def test_void(backend: Backend) -> None:
    intent = authorize(backend)
    voided = backend.payments.void(intent.id, key())
    assert voided.status is S.VOIDED
    assert voided.history == ("AUTHORIZED", "VOIDED")
    assert backend.payments.get(intent.id) == voided


def test_get_unknown_or_malformed_is_none(backend: Backend) -> None:
    assert backend.payments.get("pi_" + "0" * 24) is None
    assert backend.payments.get("nope") is None


# --- idempotency -----------------------------------------------------------------------------


def test_authorize_replays_on_its_key(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    first = authorize(backend, key=k, checkout_id=checkout_id, amount=Decimal("42.5"))
    before = backend.counts()
    # the same request in another spelling (amount scale, currency case, id case) is a replay
    again = authorize(
        backend, key=k, checkout_id=checkout_id.upper(), amount=AMOUNT, currency="usd"
    )
    assert again == first
    assert backend.counts() == before


def test_authorize_replay_returns_the_current_state(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    first = authorize(backend, key=k, checkout_id=checkout_id)
    backend.payments.capture(first.id, key())
    again = authorize(backend, key=k, checkout_id=checkout_id)
    assert again.id == first.id
    assert again.status is S.CAPTURED


@pytest.mark.parametrize("operation", ["capture", "void", "refund"])
def test_transitions_replay_on_their_key(backend: Backend, operation: str) -> None:
    intent = authorize(backend)
    if operation == "refund":
        backend.payments.capture(intent.id, key())
    k = key()
    first = getattr(backend.payments, operation)(intent.id, k)
    before = backend.counts()
    second = getattr(backend.payments, operation)(intent.id, k)
    assert second == first
    assert backend.counts() == before


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("42.51")},
        {"currency": "EUR"},
        {"token": TOKEN_CAPTURE_FAILS},
        {"checkout_id": None},
        {"checkout_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_authorize_key_reused_with_other_parameters(
    backend: Backend, change: dict[str, Any]
) -> None:
    k, checkout_id = key(), checkout()
    first = authorize(backend, key=k, checkout_id=checkout_id)
    before = backend.counts()
    args: dict[str, Any] = {"key": k, "checkout_id": checkout_id, **change}
    error = raises(ErrorCode.IDEMPOTENCY_CONFLICT, lambda: authorize(backend, **args))
    assert error.details["key"] == k
    assert backend.counts() == before
    assert backend.payments.get(first.id) == first


def test_key_reused_for_another_operation_or_intent(backend: Backend) -> None:
    a, b = authorize(backend), authorize(backend)
    auth_key = key()
    authorize(backend, key=auth_key)
    raises(ErrorCode.IDEMPOTENCY_CONFLICT, lambda: backend.payments.capture(a.id, auth_key))
    capture_key = key()
    backend.payments.capture(a.id, capture_key)
    raises(ErrorCode.IDEMPOTENCY_CONFLICT, lambda: backend.payments.capture(b.id, capture_key))
    raises(ErrorCode.IDEMPOTENCY_CONFLICT, lambda: backend.payments.refund(a.id, capture_key))
    assert backend.payments.get(b.id).status is S.AUTHORIZED


# --- test card tokens ------------------------------------------------------------------------


def test_decline_records_a_declined_intent_once(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    before = backend.counts()
    error = raises(
        ErrorCode.PAYMENT_DECLINED,
        lambda: authorize(backend, token=TOKEN_DECLINE, key=k, checkout_id=checkout_id),
    )
    assert not error.retryable
    intent = backend.payments.get(error.details["intent_id"])
    assert intent.status is S.DECLINED
    assert intent.failure_code == "PAYMENT_DECLINED"
    assert intent.history == ("DECLINED",)
    assert backend.counts() == (before[0] + 1, before[1] + 1)
    again = raises(
        ErrorCode.PAYMENT_DECLINED,
        lambda: authorize(backend, token=TOKEN_DECLINE, key=k, checkout_id=checkout_id),
    )
    assert again.details == error.details
    assert backend.counts() == (before[0] + 1, before[1] + 1)
    # a compensation voids whatever the checkout has: a declined intent stays as it is
    assert backend.payments.void(intent.id, key()) == intent
    raises(ErrorCode.INVALID_PAYMENT_STATE, lambda: backend.payments.capture(intent.id, key()))


def test_timeout_once_then_the_retry_succeeds(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    before = backend.counts()
    error = raises(
        ErrorCode.PAYMENT_TIMEOUT,
        lambda: authorize(backend, token=TOKEN_TIMEOUT_ONCE, key=k, checkout_id=checkout_id),
    )
    assert error.retryable
    assert backend.payments.find_by_checkout(checkout_id) is None
    # the attempt is recorded (that is how the retry knows it is one), no intent exists
    assert backend.counts() == (before[0], before[1] + 1)
    intent = authorize(backend, token=TOKEN_TIMEOUT_ONCE, key=k, checkout_id=checkout_id)
    assert intent.status is S.AUTHORIZED
    assert authorize(backend, token=TOKEN_TIMEOUT_ONCE, key=k, checkout_id=checkout_id) == intent
    assert backend.counts() == (before[0] + 1, before[1] + 1)
    # "once" is per key: another key times out first too
    raises(ErrorCode.PAYMENT_TIMEOUT, lambda: authorize(backend, token=TOKEN_TIMEOUT_ONCE))


def test_a_timed_out_key_still_refuses_other_parameters(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    raises(
        ErrorCode.PAYMENT_TIMEOUT,
        lambda: authorize(backend, token=TOKEN_TIMEOUT_ONCE, key=k, checkout_id=checkout_id),
    )
    raises(
        ErrorCode.IDEMPOTENCY_CONFLICT,
        lambda: authorize(backend, token=TOKEN_APPROVE, key=k, checkout_id=checkout_id),
    )


def test_capture_fails_and_the_intent_can_still_be_voided(backend: Backend) -> None:
    intent = authorize(backend, token=TOKEN_CAPTURE_FAILS)
    assert intent.status is S.AUTHORIZED
    k = key()
    error = raises(ErrorCode.CAPTURE_FAILED, lambda: backend.payments.capture(intent.id, k))
    assert error.details["intent_id"] == intent.id
    after = backend.payments.get(intent.id)
    assert after.status is S.AUTHORIZED
    assert after.failure_code == "CAPTURE_FAILED"
    before = backend.counts()
    raises(ErrorCode.CAPTURE_FAILED, lambda: backend.payments.capture(intent.id, k))
    raises(ErrorCode.CAPTURE_FAILED, lambda: backend.payments.capture(intent.id, key()))
    assert backend.counts() == (before[0], before[1] + 1)
    assert backend.payments.void(intent.id, key()).status is S.VOIDED


# --- refusals change nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("-5.00")}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"currency": "US"}, "currency"),
        ({"token": "tok_unknown"}, "payment_token"),
        ({"token": "tok visa"}, "payment_token"),
        ({"checkout_id": "not-a-uuid"}, "checkout_id"),
        ({"key": ""}, "key"),
        ({"key": "k" * 201}, "key"),
    ],
)
def test_bad_authorize_input_records_nothing(
    backend: Backend, args: dict[str, Any], field: str
) -> None:
    before = backend.counts()
    error = raises(ErrorCode.INVALID_INPUT, lambda: authorize(backend, **args))
    assert error.details["field"] == field
    assert backend.counts() == before


def test_a_refused_call_leaves_its_key_free(backend: Backend) -> None:
    k = key()
    raises(ErrorCode.INVALID_INPUT, lambda: authorize(backend, key=k, amount=Decimal("0")))
    assert authorize(backend, key=k).status is S.AUTHORIZED


@pytest.mark.parametrize("operation", ["capture", "void", "refund"])
def test_bad_transition_input_records_nothing(backend: Backend, operation: str) -> None:
    call = getattr(backend.payments, operation)
    intent = authorize(backend)
    before = backend.counts()
    raises(ErrorCode.INVALID_INPUT, lambda: call("pi_nothex", key()))
    raises(ErrorCode.INVALID_INPUT, lambda: call(intent.id, ""))
    raises(ErrorCode.INVALID_INPUT, lambda: call(intent.id, None))
    error = raises(ErrorCode.NOT_FOUND, lambda: call("pi_" + "f" * 24, key()))
    assert error.details["intent_id"] == "pi_" + "f" * 24
    assert backend.counts() == before
    assert backend.payments.get(intent.id) == intent


def _intent_in(backend: Backend, status: PaymentStatus) -> PaymentIntent:
    if status is S.DECLINED:
        error = raises(ErrorCode.PAYMENT_DECLINED, lambda: authorize(backend, TOKEN_DECLINE))
        return backend.payments.get(error.details["intent_id"])
    intent = authorize(backend)
    if status in (S.CAPTURED, S.REFUNDED):
        intent = backend.payments.capture(intent.id, key())
    if status is S.REFUNDED:
        intent = backend.payments.refund(intent.id, key())
    if status is S.VOIDED:
        intent = backend.payments.void(intent.id, key())
    assert intent.status is status
    return intent


ILLEGAL = [
    (S.AUTHORIZED, "refund"),
    (S.CAPTURED, "capture"),
    (S.CAPTURED, "void"),
    (S.VOIDED, "capture"),
    (S.VOIDED, "refund"),
    (S.REFUNDED, "capture"),
    (S.REFUNDED, "void"),
    (S.DECLINED, "capture"),
    (S.DECLINED, "refund"),
]


@pytest.mark.parametrize(("status", "operation"), ILLEGAL)
def test_illegal_transitions_change_nothing(
    backend: Backend, status: PaymentStatus, operation: str
) -> None:
    intent = _intent_in(backend, status)
    before = backend.counts()
    k = key()
    error = raises(
        ErrorCode.INVALID_PAYMENT_STATE,
        lambda: getattr(backend.payments, operation)(intent.id, k),
    )
    assert error.details == {"intent_id": intent.id, "status": str(status), "operation": operation}
    assert backend.payments.get(intent.id) == intent
    assert backend.counts() == before


@pytest.mark.parametrize(
    ("status", "operation"),
    [(S.VOIDED, "void"), (S.REFUNDED, "refund"), (S.DECLINED, "void")],
)
def test_compensations_are_no_ops_when_already_done(
    backend: Backend, status: PaymentStatus, operation: str
) -> None:
    intent = _intent_in(backend, status)
    assert getattr(backend.payments, operation)(intent.id, key()) == intent
    assert backend.payments.get(intent.id) == intent


# --- lookups ---------------------------------------------------------------------------------


def test_find_by_checkout_prefers_the_intent_holding_money(backend: Backend) -> None:
    checkout_id = checkout()
    assert backend.payments.find_by_checkout(checkout_id) is None
    raises(
        ErrorCode.PAYMENT_DECLINED,
        lambda: authorize(backend, TOKEN_DECLINE, checkout_id=checkout_id),
    )
    assert backend.payments.find_by_checkout(checkout_id).status is S.DECLINED
    held = authorize(backend, checkout_id=checkout_id)
    raises(
        ErrorCode.PAYMENT_DECLINED,
        lambda: authorize(backend, TOKEN_DECLINE, checkout_id=checkout_id),
    )
    assert backend.payments.find_by_checkout(checkout_id.upper()) == held
    raises(ErrorCode.INVALID_INPUT, lambda: backend.payments.find_by_checkout("x"))


def test_ledger_lists_captures_without_a_confirmed_booking(backend: Backend) -> None:
    def captured(checkout_id: str | None) -> PaymentIntent:
        intent = authorize(backend, checkout_id=checkout_id)
        return backend.payments.capture(intent.id, key())

    orphan = captured(checkout())
    booked = captured(checkout())
    refunded = captured(checkout())
    backend.payments.refund(refunded.id, key())
    only_authorized = authorize(backend)
    without_checkout = captured(None)
    backend.confirm_booking(booked.checkout_id)

    listed = {intent.id: intent for intent in backend.payments.captured_without_booking()}
    assert orphan.id in listed and listed[orphan.id] == orphan
    assert without_checkout.id in listed
    assert booked.id not in listed
    assert refunded.id not in listed
    assert only_authorized.id not in listed

    backend.confirm_booking(orphan.checkout_id)
    assert orphan.id not in {i.id for i in backend.payments.captured_without_booking()}


# --- concurrency -----------------------------------------------------------------------------


def _race(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Runs ``call(i)`` in ``n`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_ten_concurrent_authorizations_with_one_key_make_one_intent(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    before = backend.counts()
    results = _race(10, lambda _: authorize(backend, key=k, checkout_id=checkout_id))
    assert all(isinstance(r, PaymentIntent) for r in results), results
    assert len({r.id for r in results}) == 1
    assert backend.counts() == (before[0] + 1, before[1] + 1)


def test_ten_concurrent_declines_with_one_key_make_one_intent(backend: Backend) -> None:
    k, checkout_id = key(), checkout()
    before = backend.counts()
    results = _race(10, lambda _: authorize(backend, TOKEN_DECLINE, key=k, checkout_id=checkout_id))
    assert all(isinstance(r, DomainError) for r in results), results
    assert {r.code for r in results} == {ErrorCode.PAYMENT_DECLINED}
    assert len({r.details["intent_id"] for r in results}) == 1
    assert backend.counts() == (before[0] + 1, before[1] + 1)


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_capture_and_void_have_one_winner(backend: Backend, attempt: int) -> None:
    intent = authorize(backend)
    calls = [backend.payments.capture, backend.payments.void] * 3
    keys = [key() for _ in calls]
    results = _race(len(calls), lambda i: calls[i](intent.id, keys[i]))
    final = backend.payments.get(intent.id)
    assert final.status in (S.CAPTURED, S.VOIDED)
    winners = [r for r in results if isinstance(r, PaymentIntent)]
    # one capture wins and the others find it CAPTURED; or a void wins and the later voids
    # are the no-ops a compensation needs
    assert len(winners) == (1 if final.status is S.CAPTURED else 3)
    assert all(r.status is final.status for r in winners)
    assert all(
        r.code is ErrorCode.INVALID_PAYMENT_STATE for r in results if isinstance(r, DomainError)
    )


# --- PostgreSQL only -------------------------------------------------------------------------


def test_the_timed_out_attempt_is_durable(engine: Engine) -> None:
    k, checkout_id = key(), checkout()
    raises(
        ErrorCode.PAYMENT_TIMEOUT,
        lambda: SandboxPayments(engine).authorize(
            k, AMOUNT, "USD", TOKEN_TIMEOUT_ONCE, checkout_id
        ),
    )
    # another process (a fresh adapter on the same database) sees the first attempt
    intent = SandboxPayments(engine).authorize(k, AMOUNT, "USD", TOKEN_TIMEOUT_ONCE, checkout_id)
    assert intent.status is S.AUTHORIZED
    with engine.connect() as conn:
        row = conn.execute(select(PaymentOperation).where(PaymentOperation.key == k)).one()
    assert (row.outcome, row.intent_id, row.attempts) == ("SUCCEEDED", intent.id, 2)


def test_every_concurrent_caller_went_through_the_key_record(engine: Engine) -> None:
    payments, k = SandboxPayments(engine), key()
    results = _race(10, lambda _: payments.authorize(k, AMOUNT, "USD", TOKEN_APPROVE, checkout()))
    # different checkout ids: one caller wins the key, the nine others get a conflict
    assert sum(isinstance(r, PaymentIntent) for r in results) == 1
    assert {r.code for r in results if isinstance(r, DomainError)} == {
        ErrorCode.IDEMPOTENCY_CONFLICT
    }
