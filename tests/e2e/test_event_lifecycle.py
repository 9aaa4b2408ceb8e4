"""The event lifecycle workflow end to end: Temporal dev server, PostgreSQL, a real worker.

Set RECORD_HISTORIES=1 to (re)write tests/histories/events/, which the replay test checks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine, update
from temporalio.client import Client, WorkflowExecutionStatus

from adapters.event_client import EventClient
from adapters.orm import Event
from adapters.seatmap_cache import _keys
from bootstrap import build_worker
from config.settings import Settings
from domain.errors import DomainError, ErrorCode
from tests.e2e.event_helpers import event_with_dates, record, status_of, wait_for
from workflows.contract import SA_EVENT_ID
from workflows.event_contract import lifecycle_id


@pytest.fixture
def events(temporal_client: Client, settings: Settings, worker: None) -> EventClient:
    return EventClient(temporal_client, settings.task_queue)


async def refused(call: object, code: ErrorCode) -> DomainError:
    with pytest.raises(DomainError) as err:
        await call  # type: ignore[misc]
    assert err.value.code is code, err.value
    return err.value


async def test_publish_without_on_sale_at_opens_the_sale_now(
    events: EventClient, engine: Engine, temporal_client: Client
) -> None:
    event = event_with_dates(engine)

    snapshot = await events.publish(event.event_id, "DRAFT")

    assert snapshot.status == "ON_SALE" and status_of(engine, event.event_id) == "ON_SALE"
    described = await temporal_client.get_workflow_handle(lifecycle_id(event.event_id)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert described.typed_search_attributes.get(SA_EVENT_ID) == event.event_id
    await refused(events.publish(event.event_id), ErrorCode.INVALID_STATE)


async def test_a_short_on_sale_at_opens_the_sale_on_time(
    events: EventClient, engine: Engine, temporal_client: Client
) -> None:
    event = event_with_dates(engine, on_sale_in=3)
    opens_at = time.monotonic() + 3

    snapshot = await events.publish(event.event_id, "DRAFT")
    assert snapshot.status == "SCHEDULED" and snapshot.on_sale_at is not None
    assert status_of(engine, event.event_id) == "SCHEDULED"

    opened = await wait_for(
        lambda: status_of(engine, event.event_id) == "ON_SALE", 15, what="the sale opening"
    )
    # Not early, and late only by a timer's and an activity's latency.
    assert opens_at - 0.5 <= opened <= opens_at + 3
    await record(temporal_client, lifecycle_id(event.event_id), "scheduled_opened")


async def test_the_sale_opens_after_a_worker_restart(
    settings: Settings, temporal_client: Client, engine: Engine
) -> None:
    """The onSaleAt timer lives in Temporal: it fires while no worker runs, and the next
    worker carries the opening out."""
    own = settings.model_copy(update={"task_queue": f"{settings.task_queue}-restart"})
    events = EventClient(temporal_client, own.task_queue)
    event = event_with_dates(engine, on_sale_in=3)

    async with build_worker(own, temporal_client):
        assert (await events.publish(event.event_id, "DRAFT")).status == "SCHEDULED"
    # The first worker is gone before the sale opens; nothing opens it meanwhile.
    await asyncio.sleep(4)
    assert status_of(engine, event.event_id) == "SCHEDULED"

    async with build_worker(own, temporal_client):
        await wait_for(
            lambda: status_of(engine, event.event_id) == "ON_SALE",
            30,
            what="the sale opening on the second worker",
        )


async def test_pause_and_resume(
    events: EventClient, engine: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    event = event_with_dates(engine)
    await events.publish(event.event_id)
    version_key = _keys(settings.redis_prefix, event.event_id)[2]
    before = int(redis_client.get(version_key) or 0)

    assert (await events.pause(event.event_id)).status == "PAUSED"
    assert status_of(engine, event.event_id) == "PAUSED"
    # announced: cached seat maps and availableSeats responses are rebuilt on the next read
    assert int(redis_client.get(version_key) or 0) > before
    await refused(events.pause(event.event_id), ErrorCode.INVALID_STATE)
    await refused(events.publish(event.event_id), ErrorCode.INVALID_STATE)

    assert (await events.resume(event.event_id)).status == "ON_SALE"
    assert status_of(engine, event.event_id) == "ON_SALE"
    await refused(events.resume(event.event_id), ErrorCode.INVALID_STATE)


async def test_resume_of_a_sold_out_event_is_sold_out(events: EventClient, engine: Engine) -> None:
    event = event_with_dates(engine, status="ON_SALE")
    await events.pause(event.event_id, "ON_SALE")
    with engine.begin() as conn:  # every seat taken off sale while paused
        conn.exec_driver_sql(
            "UPDATE event_seats SET status = 'BLOCKED' WHERE event_id = %s", (event.event_id,)
        )
    assert (await events.resume(event.event_id)).status == "SOLD_OUT"


async def test_the_event_date_completes_the_event(
    events: EventClient, engine: Engine, temporal_client: Client
) -> None:
    event = event_with_dates(engine, event_in=3)
    await events.publish(event.event_id)

    await wait_for(
        lambda: status_of(engine, event.event_id) == "COMPLETED", 15, what="the completion"
    )
    handle = temporal_client.get_workflow_handle(lifecycle_id(event.event_id))
    await handle.result()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    await refused(events.pause(event.event_id), ErrorCode.INVALID_STATE)
    await refused(events.cancel(event.event_id, "too late"), ErrorCode.INVALID_STATE)
    await record(temporal_client, lifecycle_id(event.event_id), "completed")


async def test_a_moved_on_sale_at_is_followed_after_a_refresh(
    events: EventClient, engine: Engine
) -> None:
    event = event_with_dates(engine, on_sale_in=3600)
    assert (await events.publish(event.event_id)).status == "SCHEDULED"
    with engine.begin() as conn:
        conn.execute(
            update(Event)
            .where(Event.id == uuid.UUID(event.event_id))
            .values(on_sale_at=Event.on_sale_at - timedelta(seconds=3598))
        )

    await events.refresh(event.event_id)

    await wait_for(lambda: status_of(engine, event.event_id) == "ON_SALE", 15, what="opening")


async def test_refusals(events: EventClient, engine: Engine) -> None:
    cancelled = event_with_dates(engine, status="CANCELLED")  # the seed's: no workflow yet
    await refused(events.publish(cancelled.event_id), ErrorCode.INVALID_STATE)
    await refused(events.cancel(cancelled.event_id, "again"), ErrorCode.INVALID_STATE)
    draft = event_with_dates(engine)
    await refused(events.resume(draft.event_id), ErrorCode.INVALID_STATE)
    await refused(events.pause(draft.event_id), ErrorCode.INVALID_STATE)
    await refused(events.cancel(draft.event_id, "  "), ErrorCode.INVALID_INPUT)
    assert status_of(engine, draft.event_id) == "DRAFT"
    await refused(events.publish(str(uuid.uuid4())), ErrorCode.NOT_FOUND)
