"""Both event workflows keep their histories bounded by continuing as new, and lose nothing
doing so. The limits are lowered for the test (the workflows read them at each check)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from adapters.event_client import EventClient
from bootstrap import Backends
from config.settings import Settings
from tests.e2e.event_helpers import event_with_dates, status_of
from tests.e2e.test_event_cancellation import book, refunds_per_booking
from tests.factories import create_user, create_venue_event
from workflows import event_cancellation, event_lifecycle
from workflows.event_cancellation import EventCancellationWorkflow
from workflows.event_contract import CancellationInput, cancellation_id, lifecycle_id


async def runs_of(client: Client, workflow_id: str) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def test_many_pauses_continue_the_lifecycle_as_new(
    settings: Settings,
    temporal_client: Client,
    engine: Engine,
    worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_lifecycle, "HISTORY_LIMIT", 40)
    events = EventClient(temporal_client, settings.task_queue)
    event = event_with_dates(engine)
    await events.publish(event.event_id)
    for _ in range(6):
        assert (await events.pause(event.event_id)).status == "PAUSED"
        assert (await events.resume(event.event_id)).status == "ON_SALE"

    assert status_of(engine, event.event_id) == "ON_SALE"
    assert await runs_of(temporal_client, lifecycle_id(event.event_id)) >= 2
    # the new run still answers and still refuses what the status forbids
    assert (await events.pause(event.event_id)).status == "PAUSED"


async def test_a_long_cancellation_continues_as_new_and_refunds_everything(
    settings: Settings,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_cancellation, "HISTORY_LIMIT", 30)
    event = create_venue_event(engine, n_seats=24)
    booked = book(backends, event, [create_user(engine)], 24)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET status = 'CANCELLED' WHERE id = :e"), {"e": event.event_id}
        )

    handle = await temporal_client.start_workflow(
        EventCancellationWorkflow.run,
        CancellationInput(event.event_id, "test", page_size=2, parallel=2),
        id=cancellation_id(event.event_id),
        task_queue=settings.task_queue,
    )
    final = await handle.result()

    assert final.done and final.refunded == 24 and final.to_refund == 24
    assert await runs_of(temporal_client, cancellation_id(event.event_id)) >= 2
    refunds = refunds_per_booking(engine, event.event_id)
    assert sorted(refunds) == sorted(booked)
    assert all(status == "REFUNDED" and n == 1 for status, n in refunds.values())
