"""Cancelling an event end to end: open checkouts cancelled, 200 bookings refunded exactly
once although the worker running the refunds is killed (-9) in the middle.

Set RECORD_HISTORIES=1 to (re)write tests/histories/events/, which the replay test checks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, text
from temporalio.client import Client

from activities.checkout import authorize_key, capture_key
from adapters.checkout_client import CheckoutClient
from adapters.event_client import EventClient
from adapters.payments import TOKEN_APPROVE
from audit.invariants import check_all
from bootstrap import Backends, build_worker
from config.settings import Settings
from domain.errors import DomainError, ErrorCode
from domain.model import ConfirmRequest
from tests.e2e.event_helpers import record, status_of, wait_for
from tests.e2e.test_saga_resilience import _worker_env
from tests.factories import EventFixture, create_user, create_venue_event
from workflows.event_contract import CancellationProgress, cancellation_id, lifecycle_id

ROOT = Path(__file__).resolve().parents[2]
BOOKINGS = 200
PRICE = Decimal("50.00")


def book(backends: Backends, event: EventFixture, users: list[str], n: int) -> list[str]:
    """``n`` confirmed, captured one-seat bookings, as the saga leaves them; their checkouts."""
    checkouts = []
    for i, seat in enumerate(event.seat_ids[:n]):
        checkout = str(uuid.uuid4())
        intent = backends.payments.authorize(
            authorize_key(checkout), PRICE, "USD", TOKEN_APPROVE, checkout_id=checkout
        )
        backends.bookings.confirm(
            ConfirmRequest(
                checkout, users[i % len(users)], event.event_id, (seat,), PRICE, "USD", intent.id
            )
        )
        backends.payments.capture(intent.id, capture_key(checkout))
        checkouts.append(checkout)
    return checkouts


def refunded_count(engine: Engine, event_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM bookings WHERE event_id = :e AND status = 'REFUNDED'"),
                {"e": event_id},
            ).scalar_one()
        )


def refunds_per_booking(engine: Engine, event_id: str) -> dict[str, tuple[str, int]]:
    """checkout id -> (its payment's status, how many refund operations the processor took)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT b.checkout_id::text, pi.status,
                       (SELECT count(*) FROM payment_operations po
                        WHERE po.intent_id = pi.id AND po.operation = 'refund') AS refunds
                FROM bookings b JOIN payment_intents pi ON pi.id = b.payment_intent_id
                WHERE b.event_id = :e
                """
            ),
            {"e": event_id},
        ).all()
    return {checkout: (status, int(n)) for checkout, status, n in rows}


async def test_cancellation_refunds_every_booking_once_across_a_killed_worker(
    settings: Settings,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    checkouts: CheckoutClient,
    tmp_path: Path,
) -> None:
    event = create_venue_event(engine, n_seats=BOOKINGS + 4, base_price=PRICE)
    users = [create_user(engine) for _ in range(10)]
    booked = book(backends, event, users, BOOKINGS)
    # Two buyers hold seats in open checkouts (on the run's worker) when the event is cancelled.
    open_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    for checkout, seat in zip(open_ids, event.seat_ids[BOOKINGS:], strict=False):
        held = await checkouts.start_and_hold(checkout, create_user(engine), event.event_id, [seat])
        assert held.held

    queue = f"{settings.task_queue}-cancel"
    env = {**_worker_env(settings, queue), "REFUND_DELAY_SECONDS": "0.05"}
    log = open(tmp_path / "slow-worker.log", "ab")  # noqa: SIM115 - owned by the child
    slow = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.slow_refund_worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    events = EventClient(temporal_client, queue)
    try:
        snapshot = await events.cancel(event.event_id, "the venue flooded", "ON_SALE")
        assert snapshot.status == "CANCELLED" and snapshot.cancel_reason == "the venue flooded"
        assert status_of(engine, event.event_id) == "CANCELLED"
        # Kill the worker in the middle of the refunds.
        await wait_for(
            lambda: refunded_count(engine, event.event_id) >= 30, 60, 0.02, "the first refunds"
        )
        os.kill(slow.pid, signal.SIGKILL)
        slow.wait(timeout=10)
        at_kill = refunded_count(engine, event.event_id)
        assert at_kill < BOOKINGS, "the refunds finished before the kill: nothing was proven"
        progress = await events.cancellation(event.event_id)
        assert progress is not None and not progress.done

        async with build_worker(settings.model_copy(update={"task_queue": queue}), temporal_client):
            handle = temporal_client.get_workflow_handle(
                cancellation_id(event.event_id), result_type=CancellationProgress
            )
            final = await asyncio.wait_for(handle.result(), timeout=120)
            # Cancelling twice is refused, and changes nothing.
            try:
                await events.cancel(event.event_id, "again")
                raise AssertionError("a second cancellation was accepted")
            except DomainError as exc:
                assert exc.code is ErrorCode.INVALID_STATE
            await temporal_client.get_workflow_handle(lifecycle_id(event.event_id)).result()
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait(timeout=10)
        log.close()

    assert slow.returncode == -signal.SIGKILL
    assert final.done and final.phase == "done"
    assert final.to_refund == BOOKINGS and final.refunded == BOOKINGS
    assert final.checkouts_cancelled == len(open_ids)
    assert await events.cancellation(event.event_id) == final
    refunds = refunds_per_booking(engine, event.event_id)
    assert sorted(refunds) == sorted(booked)
    assert {checkout: status for checkout, (status, _) in refunds.items()} == dict.fromkeys(
        booked, "REFUNDED"
    )
    assert [c for c, (_, n) in refunds.items() if n != 1] == [], "a booking refunded twice"
    assert refunded_count(engine, event.event_id) == BOOKINGS
    for checkout in open_ids:
        state = await checkouts.result(checkout)
        assert state.status == "CANCELLED", state
    assert status_of(engine, event.event_id) == "CANCELLED"
    violations = await check_all(
        engine, backends.locks, backends.payments, temporal_client, [event.event_id]
    )
    assert violations == []
    await record(temporal_client, cancellation_id(event.event_id), "cancellation_resumed")
    await record(temporal_client, lifecycle_id(event.event_id), "cancelled")


async def test_a_confirm_on_a_cancelled_event_is_refused_and_the_checkout_voids(
    settings: Settings,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    checkouts: CheckoutClient,
) -> None:
    """A checkout that is paying when the event is cancelled cannot be cancelled; its confirm
    fails on the CANCELLED event and it voids its authorization itself."""
    event = create_venue_event(engine, n_seats=2, base_price=PRICE)
    checkout = str(uuid.uuid4())
    buyer = create_user(engine)
    seats = event.seat_ids[:1]
    assert (await checkouts.start_and_hold(checkout, buyer, event.event_id, seats)).held
    with engine.begin() as conn:  # cancelled between the hold and the payment
        conn.execute(
            text("UPDATE events SET status = 'CANCELLED' WHERE id = :e"), {"e": event.event_id}
        )

    state = await checkouts.submit_payment(checkout, TOKEN_APPROVE)

    assert state.status == "FAILED" and state.failure_reason == "EVENT_NOT_ON_SALE"
    intent = backends.payments.find_by_checkout(checkout)
    assert intent is not None and intent.status.value == "VOIDED"
    assert backends.bookings.get_by_checkout(checkout) is None or (
        backends.bookings.get_by_checkout(checkout).status.value != "CONFIRMED"  # type: ignore[union-attr]
    )
