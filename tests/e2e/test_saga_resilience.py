"""The saga under failure: activities retried after they succeeded, and a worker killed -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from temporalio.client import Client

from activities.checkout import CheckoutActivities
from adapters.checkout_client import CheckoutClient
from adapters.payments import TOKEN_APPROVE, TOKEN_TIMEOUT_ONCE
from audit.invariants import check_all
from bootstrap import Backends, build_worker
from config.settings import Settings
from domain.model import PaymentStatus
from tests.factories import create_user, create_venue_event

ROOT = Path(__file__).resolve().parents[2]


class FailsAfterFirstSuccess:
    """Proxy that lets each named call succeed once, then reports a lost connection, as if the
    worker died just after the effect and before Temporal heard of it."""

    def __init__(self, target: Any, methods: set[str]) -> None:
        self._target = target
        self._pending = set(methods)
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        real = getattr(self._target, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            self.calls[name] = self.calls.get(name, 0) + 1
            if name in self._pending:
                self._pending.discard(name)
                raise ConnectionError(f"connection lost after {name} succeeded")
            return result

        return call


async def test_activity_retried_after_success_books_and_charges_once(
    settings: Settings, temporal_client: Client, backends: Backends, engine: Engine
) -> None:
    bookings = FailsAfterFirstSuccess(backends.bookings, {"confirm"})
    payments = FailsAfterFirstSuccess(backends.payments, {"authorize", "capture"})
    locks = FailsAfterFirstSuccess(backends.locks, {"acquire"})
    activities = CheckoutActivities(
        locks,  # type: ignore[arg-type]
        backends.catalog,
        bookings,  # type: ignore[arg-type]
        payments,  # type: ignore[arg-type]
        backends.seat_map,
        TOKEN_APPROVE,
    )
    flaky_settings = settings.model_copy(update={"task_queue": f"{settings.task_queue}-flaky"})
    event = create_venue_event(engine, n_seats=4, base_price=Decimal("25.00"))
    checkout_id = str(uuid.uuid4())
    checkouts = CheckoutClient(temporal_client, flaky_settings.task_queue)

    async with build_worker(flaky_settings, temporal_client, activities):
        held = await checkouts.start_and_hold(
            checkout_id, create_user(engine), event.event_id, event.seat_ids[:2]
        )
        assert held.held
        state = await checkouts.submit_payment(checkout_id, TOKEN_APPROVE)

    assert state.status == "CONFIRMED"
    assert bookings.calls["confirm"] == 2 and payments.calls["capture"] == 2
    assert payments.calls["authorize"] == 2
    # The retried hold re-takes the seats its lost attempt took (acquire is re-entrant).
    assert locks.calls["acquire"] == 2
    with engine.connect() as conn:
        n_bookings = conn.execute(
            text("SELECT count(*) FROM bookings WHERE checkout_id = :c"), {"c": checkout_id}
        ).scalar_one()
        n_intents = conn.execute(
            text("SELECT count(*) FROM payment_intents WHERE checkout_id = :c"),
            {"c": checkout_id},
        ).scalar_one()
    assert n_bookings == 1 and n_intents == 1
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is not None and intent.status == PaymentStatus.CAPTURED
    assert intent.amount == Decimal("50.00")
    violations = await check_all(
        engine, backends.locks, backends.payments, temporal_client, [event.event_id]
    )
    assert violations == []


def _worker_env(settings: Settings, task_queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV"))}
    env.update(
        ENVIRONMENT="test",
        JWT_SECRET=settings.jwt_secret,
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        DYNAMODB_ENDPOINT=settings.dynamodb_endpoint or "",
        TEMPORAL_ADDRESS=settings.temporal_address or "",
        TASK_QUEUE=task_queue,
        SEAT_LOCK_TABLE=settings.seat_lock_table,
        REDIS_PREFIX=settings.redis_prefix,
        WORKER_METRICS_PORT="0",
        LOG_JSON="false",
    )
    return env


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )


async def test_worker_killed_mid_checkout_is_finished_by_another(
    settings: Settings, temporal_client: Client, backends: Backends, engine: Engine, tmp_path: Path
) -> None:
    task_queue = f"{settings.task_queue}-kill"
    env = _worker_env(settings, task_queue)
    checkouts = CheckoutClient(temporal_client, task_queue)
    event = create_venue_event(engine, n_seats=6)
    checkout_id = str(uuid.uuid4())
    first = _start_worker(env, tmp_path / "worker-1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        held = await checkouts.start_and_hold(
            checkout_id, create_user(engine), event.event_id, event.seat_ids[:3]
        )
        assert held.held
        # The first authorize attempt times out and is retried after a 200 ms backoff, so the
        # first worker cannot finish the checkout before it is killed (with the approving
        # card it sometimes did, within the 50 ms, and the second worker had nothing to do).
        payment = asyncio.create_task(checkouts.submit_payment(checkout_id, TOKEN_TIMEOUT_ONCE))
        await asyncio.sleep(0.05)  # let the update reach the first worker's workflow
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

        second = _start_worker(env, tmp_path / "worker-2.log")
        state = await asyncio.wait_for(payment, timeout=90)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)

    assert state.status == "CONFIRMED", state
    assert first.returncode == -signal.SIGKILL
    assert second is not None and second.returncode == 0  # stopped gracefully on SIGTERM
    violations = await check_all(
        engine, backends.locks, backends.payments, temporal_client, [event.event_id]
    )
    assert violations == []


class FailsFirstCalls:
    """Proxy whose named method fails its first ``failures`` calls with a transport error."""

    def __init__(self, target: Any, method: str, failures: int) -> None:
        self._target = target
        self._method = method
        self._left = failures
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._target, name)
        if name != self._method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self._left > 0:
                self._left -= 1
                raise ConnectionError("payment processor unreachable")
            return real(*args, **kwargs)

        return call


async def test_a_failing_compensation_stays_visible_until_it_succeeds(
    settings: Settings, temporal_client: Client, backends: Backends, engine: Engine
) -> None:
    from adapters.payments import TOKEN_CAPTURE_FAILS
    from workflows.checkout import LOCAL_COMPENSATION_RETRY
    from workflows.contract import workflow_id

    # Past the compensation's quick local attempts, and then twice more as a regular activity.
    local_attempts = LOCAL_COMPENSATION_RETRY.maximum_attempts
    payments = FailsFirstCalls(backends.payments, "void", failures=local_attempts + 2)
    activities = CheckoutActivities(
        backends.locks,
        backends.catalog,
        backends.bookings,
        payments,  # type: ignore[arg-type]
        backends.seat_map,
        TOKEN_APPROVE,
    )
    stuck_settings = settings.model_copy(update={"task_queue": f"{settings.task_queue}-stuck"})
    event = create_venue_event(engine, n_seats=2)
    checkout_id = str(uuid.uuid4())
    checkouts = CheckoutClient(temporal_client, stuck_settings.task_queue)
    handle = temporal_client.get_workflow_handle(workflow_id(checkout_id))

    async with build_worker(stuck_settings, temporal_client, activities):
        await checkouts.start_and_hold(
            checkout_id, create_user(engine), event.event_id, event.seat_ids[:1]
        )
        payment = asyncio.create_task(checkouts.submit_payment(checkout_id, TOKEN_CAPTURE_FAILS))
        seen = None
        for _ in range(200):  # 0.5 s and 1 s between local attempts, then 0.5 s, 1 s, 2 s
            pending = (await handle.describe()).raw_description.pending_activities
            seen = next(
                (p for p in pending if p.activity_type.name == "void_or_refund_payment"), None
            )
            if seen is not None and seen.last_failure.message:
                break
            await asyncio.sleep(0.1)
        state = await asyncio.wait_for(payment, timeout=60)

    assert seen is not None, "the failing compensation never showed as a pending activity"
    assert "payment processor unreachable" in seen.last_failure.message
    assert seen.attempt >= 2
    assert payments.calls == local_attempts + 3  # every failure, then the one that voided
    assert state.status == "FAILED" and state.failure_reason == "CAPTURE_FAILED"
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is not None and intent.status == PaymentStatus.VOIDED
