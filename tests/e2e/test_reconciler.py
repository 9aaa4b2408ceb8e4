"""The reconciler against the real services: each inconsistency planted through the real
adapters (and backdated past the grace period), repaired by the ReconcilerWorkflow on a real
worker exactly once (a second run repairs nothing), and the invariant checker clean after.

A database, task queue and worker of this module's own: what other suites leave in the
session's database must not count here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client, WorkflowExecutionStatus

from activities.reconciler import ReconcileInput, ReconcileResult
from adapters.migrate import upgrade
from adapters.payments import TOKEN_APPROVE, TOKEN_CAPTURE_FAILS
from audit.invariants import check_all
from bootstrap import Backends, build_backends, build_worker
from config.settings import Settings
from devstack.databases import create_database, drop_database
from devstack.services import Stack
from domain.model import BookingStatus, ConfirmRequest, PaymentStatus, SeatStatus
from tests.factories import EventFixture, create_user, create_venue_event, seat_states
from worker.reconciler_schedule import ensure_reconciler_schedule, schedule_id
from workflows.contract import WORKFLOW_NAME, CheckoutInput, workflow_id
from workflows.reconciler import ReconcilerWorkflow

PRICE = Decimal("50.00")
PAST_GRACE = "interval '10 minutes'"


@dataclass
class World:
    settings: Settings
    backends: Backends
    client: Client

    @property
    def engine(self) -> Engine:
        return self.backends.engine


@pytest.fixture(scope="module")
def own_settings(stack: Stack, settings: Settings, run_id: str) -> Iterator[Settings]:
    name = f"tb_reconciler_{run_id}"
    url = create_database(stack.database_url, name)
    upgrade(url)
    yield settings.model_copy(update={"database_url": url, "task_queue": f"reconciler-{run_id}"})
    drop_database(stack.database_url, name)


@pytest.fixture(scope="module")
async def world(
    own_settings: Settings, temporal_client: Client, dynamodb: Any
) -> AsyncIterator[World]:
    backends = build_backends(own_settings)
    async with build_worker(own_settings, temporal_client):
        yield World(own_settings, backends, temporal_client)
    backends.close()


def backdate(
    engine: Engine, intent_ids: Sequence[str] = (), checkout_ids: Sequence[str] = ()
) -> None:
    """Past the grace period, as if the saga had left these long ago."""
    with engine.begin() as conn:
        for intent_id in intent_ids:
            conn.execute(
                text(
                    f"UPDATE payment_intents SET updated_at = now() - {PAST_GRACE}, "
                    f"created_at = now() - {PAST_GRACE} WHERE id = :id"
                ),
                {"id": intent_id},
            )
        for checkout_id in checkout_ids:
            conn.execute(
                text(
                    f"UPDATE bookings SET updated_at = now() - {PAST_GRACE}, "
                    f"created_at = now() - {PAST_GRACE} WHERE checkout_id = :c"
                ),
                {"c": checkout_id},
            )


def authorize(world: World, token: str = TOKEN_APPROVE, checkout_id: str | None = None) -> Any:
    checkout = checkout_id or str(uuid.uuid4())
    return world.backends.payments.authorize(f"authorize:{checkout}", PRICE, "USD", token, checkout)


def confirm(world: World, event: EventFixture, seat: str, intent: Any) -> None:
    world.backends.bookings.confirm(
        ConfirmRequest(
            checkout_id=intent.checkout_id,
            user_id=create_user(world.engine),
            event_id=event.event_id,
            seat_ids=(seat,),
            total=PRICE,
            currency="USD",
            payment_intent_id=intent.id,
        )
    )


async def reconcile(world: World, **overrides: Any) -> ReconcileResult:
    request = ReconcileInput(
        grace_seconds=world.settings.reconciler_grace_seconds,
        checkout_task_queue=f"{world.settings.task_queue}-checkouts",
        **overrides,
    )
    return await world.client.execute_workflow(
        ReconcilerWorkflow.run,
        request,
        id=f"reconciler-test-{uuid.uuid4()}",
        task_queue=world.settings.task_queue,
    )


async def invariants_clean(world: World, event_ids: list[str]) -> None:
    found = await check_all(
        world.engine,
        world.backends.locks,
        world.backends.payments,
        world.client,
        event_ids,
    )
    assert found == []


async def test_each_planted_inconsistency_is_repaired_exactly_once(world: World) -> None:
    payments, bookings = world.backends.payments, world.backends.bookings
    event = create_venue_event(world.engine, n_seats=4, base_price=PRICE)
    # 1. captured, never booked (the saga died between capture and its refund)
    orphan_charge = authorize(world)
    payments.capture(orphan_charge.id, f"capture:{orphan_charge.checkout_id}")
    # 2. authorized, no checkout will ever capture or void it
    orphan_authorization = authorize(world)
    # 3a. confirmed, authorization still valid, never captured: captured
    to_capture = authorize(world)
    confirm(world, event, event.seat_ids[0], to_capture)
    # 3b. confirmed, then its payment voided (a confirm that read the authorization just
    # before the compensation's void; one after it is refused by the store): cancelled
    voided = authorize(world)
    confirm(world, event, event.seat_ids[1], voided)
    payments.void(voided.id, f"void:{voided.checkout_id}")
    # 3c. confirmed, authorized, but the capture fails: cancelled and voided
    capture_fails = authorize(world, TOKEN_CAPTURE_FAILS)
    confirm(world, event, event.seat_ids[2], capture_fails)
    # fresh (inside the grace period): a saga may still be at work on it, left alone
    fresh = authorize(world)

    planted = [orphan_charge, orphan_authorization, to_capture, voided, capture_fails]
    backdate(
        world.engine,
        intent_ids=[intent.id for intent in planted],
        checkout_ids=[to_capture.checkout_id, voided.checkout_id, capture_fails.checkout_id],
    )

    first = await reconcile(world)
    assert (first.refunded, first.voided, first.captured) == (1, 1, 1)
    assert (first.bookings_flagged, first.bookings_cancelled) == (3, 2)
    assert (first.failed, first.skipped_live) == (0, 0)

    second = await reconcile(world)
    assert second.repairs == 0 and second.bookings_flagged == 0 and second.failed == 0

    status = {intent.id: payments.get(intent.id).status for intent in [*planted, fresh]}
    assert status == {
        orphan_charge.id: PaymentStatus.REFUNDED,
        orphan_authorization.id: PaymentStatus.VOIDED,
        to_capture.id: PaymentStatus.CAPTURED,
        voided.id: PaymentStatus.VOIDED,
        capture_fails.id: PaymentStatus.VOIDED,
        fresh.id: PaymentStatus.AUTHORIZED,
    }
    assert bookings.get_by_checkout(to_capture.checkout_id).status == BookingStatus.CONFIRMED
    for cancelled in (voided, capture_fails):
        assert bookings.get_by_checkout(cancelled.checkout_id).status == BookingStatus.CANCELLED
    seats = seat_states(world.engine, event.event_id)
    assert [seats[seat][0] for seat in event.seat_ids[:3]] == [
        SeatStatus.BOOKED,
        SeatStatus.AVAILABLE,
        SeatStatus.AVAILABLE,
    ]
    payments.void(fresh.id, f"void:{fresh.checkout_id}")  # its saga's part, for the checker
    await invariants_clean(world, [event.event_id])


async def start_stuck_checkout(world: World) -> str:
    """A running checkout no worker will ever advance (its queue has none)."""
    checkout_id = str(uuid.uuid4())
    await world.client.start_workflow(
        WORKFLOW_NAME,
        CheckoutInput(checkout_id=checkout_id, user_id=str(uuid.uuid4()), event_id="e"),
        id=workflow_id(checkout_id),
        task_queue=f"{world.settings.task_queue}-checkouts",
    )
    return checkout_id


async def status_of(world: World, checkout_id: str) -> WorkflowExecutionStatus | None:
    described = await world.client.get_workflow_handle(workflow_id(checkout_id)).describe()
    return described.status


async def test_a_stuck_checkout_is_flagged_and_its_authorization_left_while_it_runs(
    world: World,
) -> None:
    checkout_id = await start_stuck_checkout(world)
    authorization = authorize(world, checkout_id=checkout_id)
    backdate(world.engine, intent_ids=[authorization.id])
    # past its longest life (0 s here) but not yet past the termination delay
    for _ in range(2):
        result = await reconcile(world, stuck_after_seconds=0, terminate_after_seconds=3600)
        assert (result.stuck_flagged, result.stuck_terminated) == (1, 0)
        assert (result.skipped_live, result.voided) == (1, 0)
    assert await status_of(world, checkout_id) == WorkflowExecutionStatus.RUNNING
    assert world.backends.payments.get(authorization.id).status == PaymentStatus.AUTHORIZED
    await world.client.get_workflow_handle(workflow_id(checkout_id)).terminate("test done")
    assert (await reconcile(world)).voided == 1  # no longer live: its authorization is voided


async def test_a_checkout_stuck_too_long_is_terminated_and_compensated(world: World) -> None:
    checkout_id = await start_stuck_checkout(world)
    authorization = authorize(world, checkout_id=checkout_id)
    backdate(world.engine, intent_ids=[authorization.id])
    await asyncio.sleep(1.1)  # older than the 1 s below, by the workflow's start time
    first = await reconcile(world, stuck_after_seconds=0, terminate_after_seconds=1)
    assert (first.stuck_flagged, first.stuck_terminated, first.voided) == (1, 1, 1)
    assert await status_of(world, checkout_id) == WorkflowExecutionStatus.TERMINATED
    assert world.backends.payments.get(authorization.id).status == PaymentStatus.VOIDED
    second = await reconcile(world, stuck_after_seconds=0, terminate_after_seconds=1)
    assert second.repairs == 0 and second.stuck_flagged == 0


async def test_the_worker_creates_one_schedule_every_minute(world: World) -> None:
    created = [await ensure_reconciler_schedule(world.client, world.settings) for _ in range(2)]
    handle = world.client.get_schedule_handle(schedule_id(world.settings))
    try:
        assert created == [True, False]  # the second start finds it and leaves it
        described = await handle.describe()
        (interval,) = described.schedule.spec.intervals
        assert interval.every.total_seconds() == 60
        assert described.schedule.action.workflow == "ReconcilerWorkflow"  # type: ignore[union-attr]
    finally:
        await handle.delete()
