"""The checkout saga end to end: Temporal dev server, moto server, PostgreSQL, a real worker.

Set RECORD_HISTORIES=1 to (re)write the histories under tests/histories/ that the replay test
checks the workflow code against.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from adapters.checkout_client import CheckoutClient
from adapters.payments import (
    TOKEN_APPROVE,
    TOKEN_CAPTURE_FAILS,
    TOKEN_DECLINE,
    TOKEN_TIMEOUT_ONCE,
)
from adapters.seatmap_cache import seatmap_channel
from audit.invariants import check_all
from bootstrap import Backends
from config.settings import Settings
from domain.errors import DomainError, ErrorCode
from domain.model import BookingStatus, PaymentStatus
from tests.factories import EventFixture, create_user, create_venue_event
from workflows.contract import SA_EVENT_ID, SA_STATUS, SA_USER_ID, CheckoutState, workflow_id

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def record(client: Client, checkouts: CheckoutClient, checkout_id: str, name: str) -> None:
    if os.environ.get("RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id(checkout_id)).fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def history_events(client: Client, checkout_id: str) -> list[HistoryEvent]:
    history = await client.get_workflow_handle(workflow_id(checkout_id)).fetch_history()
    return list(history.events)


async def upserted_statuses(client: Client, checkout_id: str) -> list[str]:
    found = []
    for event in await history_events(client, checkout_id):
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes
            payload = fields.search_attributes.indexed_fields.get(SA_STATUS.name)
            if payload is not None:
                found.append(json.loads(payload.data))
    return found


async def activity_tasks(client: Client, checkout_id: str) -> list[str]:
    """The regular activities a checkout scheduled, in order (local ones are markers)."""
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in await history_events(client, checkout_id)
        if event.HasField("activity_task_scheduled_event_attributes")
    ]


async def markers(client: Client, checkout_id: str) -> list[str]:
    """The markers a checkout recorded, in order: one per local activity, and any patch."""
    return [
        event.marker_recorded_event_attributes.marker_name
        for event in await history_events(client, checkout_id)
        if event.HasField("marker_recorded_event_attributes")
    ]


def seat_statuses(engine: Engine, event: EventFixture) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seat_id::text, status FROM event_seats WHERE event_id = :e"),
            {"e": event.event_id},
        )
        return {seat: status for seat, status in rows}


async def assert_no_violations(
    engine: Engine, backends: Backends, client: Client, event: EventFixture
) -> None:
    violations = await check_all(
        engine, backends.locks, backends.payments, client, [event.event_id]
    )
    assert violations == []


@pytest.fixture
def event(engine: Engine) -> EventFixture:
    return create_venue_event(engine, n_seats=8, base_price=Decimal("40.00"))


@pytest.fixture
def user(engine: Engine) -> str:
    return create_user(engine)


async def test_happy_path_confirms_books_captures_and_releases(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
    user: str,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    checkout_id = str(uuid.uuid4())
    seats = event.seat_ids[:2]
    changes = redis_client.pubsub(ignore_subscribe_messages=True)
    changes.subscribe(seatmap_channel(settings.redis_prefix, event.event_id))

    held = await checkouts.start_and_hold(checkout_id, user, event.event_id, seats)
    assert held.held and held.seat_ids == sorted(seats) and held.expires_at
    assert {lock.seat_id for lock in backends.locks.live_locks(event.event_id)} == set(seats)

    state = await checkouts.submit_payment(checkout_id, TOKEN_APPROVE, seat_ids=seats)

    assert state.status == "CONFIRMED", state
    assert state.history == ["OPEN", "HELD", "AUTHORIZING", "CONFIRMING", "CAPTURING", "CONFIRMED"]
    assert state.amount == "80.00" and state.booking_reference
    booking = backends.bookings.get_by_checkout(checkout_id)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    assert booking.reference == state.booking_reference and booking.total == Decimal("80.00")
    assert all(seat_statuses(engine, event)[s] == "BOOKED" for s in seats)
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is not None and intent.status == PaymentStatus.CAPTURED
    assert backends.locks.live_locks(event.event_id) == []
    description = await temporal_client.get_workflow_handle(workflow_id(checkout_id)).describe()
    attributes = description.typed_search_attributes
    assert attributes.get(SA_STATUS) == "CONFIRMED"
    assert attributes.get(SA_EVENT_ID) == event.event_id
    assert attributes.get(SA_USER_ID) == user
    # The start operation set EventId and UserId; the payment's steps run back to back in one
    # workflow task, so their statuses are not upserted one by one (workflows/checkout.py).
    upserted = ["HELD", "AUTHORIZING", "CONFIRMED"]
    assert await upserted_statuses(temporal_client, checkout_id) == upserted
    # Its timeline shows only its own steps: no patch markers, no regular activity.
    assert await markers(temporal_client, checkout_id) == ["core_local_activity"] * 5
    assert await activity_tasks(temporal_client, checkout_id) == []
    kinds = []
    deadline = time.monotonic() + 5
    while len(kinds) < 3 and time.monotonic() < deadline:
        message = changes.get_message(timeout=0.5)  # None for the subscription's own reply
        if message is not None:
            kinds.append(json.loads(message["data"])["kind"])
    changes.close()
    assert kinds == ["held", "booked", "released"]
    await assert_no_violations(engine, backends, temporal_client, event)
    await record(temporal_client, checkouts, checkout_id, "confirmed")


async def test_two_checkouts_race_for_one_seat(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
) -> None:
    seat = event.seat_ids[0]
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    users = [create_user(engine), create_user(engine)]
    results = await asyncio.gather(
        *(
            checkouts.start_and_hold(c, u, event.event_id, [seat])
            for c, u in zip(ids, users, strict=True)
        )
    )

    assert sorted(r.held for r in results) == [False, True]
    loser_index = [r.held for r in results].index(False)
    loser = results[loser_index]
    assert loser.taken == [seat] and loser.failure_reason == "SEATS_UNAVAILABLE"
    final = await checkouts.result(ids[loser_index])
    assert final.status == "FAILED" and final.failure_reason == "SEATS_UNAVAILABLE"
    winner_id = ids[1 - loser_index]
    assert [lock.lock_id for lock in backends.locks.live_locks(event.event_id)] == [winner_id]
    await checkouts.cancel(winner_id)
    await record(temporal_client, checkouts, ids[loser_index], "hold_refused")


async def test_declined_card_releases_and_charges_nothing(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
    user: str,
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:3])

    state = await checkouts.submit_payment(checkout_id, TOKEN_DECLINE)

    assert state.status == "FAILED" and state.failure_reason == "PAYMENT_DECLINED"
    assert state.booking_reference is None
    assert backends.bookings.get_by_checkout(checkout_id) is None
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is None or intent.status == PaymentStatus.DECLINED
    assert backends.locks.live_locks(event.event_id) == []
    assert set(seat_statuses(engine, event).values()) == {"AVAILABLE"}
    await assert_no_violations(engine, backends, temporal_client, event)
    # The compensations (void, release) ran locally too: no activity task.
    assert await activity_tasks(temporal_client, checkout_id) == []
    await record(temporal_client, checkouts, checkout_id, "payment_declined")


async def test_capture_failure_cancels_booking_and_voids(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
    user: str,
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:2])

    state = await checkouts.submit_payment(checkout_id, TOKEN_CAPTURE_FAILS)

    assert state.status == "FAILED" and state.failure_reason == "CAPTURE_FAILED"
    assert "COMPENSATING" in state.history and state.booking_reference is None
    booking = backends.bookings.get_by_checkout(checkout_id)
    assert booking is not None and booking.status == BookingStatus.CANCELLED
    assert set(seat_statuses(engine, event).values()) == {"AVAILABLE"}
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is not None and intent.status == PaymentStatus.VOIDED
    assert backends.locks.live_locks(event.event_id) == []
    await assert_no_violations(engine, backends, temporal_client, event)
    await record(temporal_client, checkouts, checkout_id, "capture_failed")


async def test_authorization_timeout_is_retried_once_then_confirms(
    checkouts: CheckoutClient, backends: Backends, event: EventFixture, user: str
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:1])

    state = await checkouts.submit_payment(checkout_id, TOKEN_TIMEOUT_ONCE)

    assert state.status == "CONFIRMED"
    intent = backends.payments.find_by_checkout(checkout_id)
    assert intent is not None and intent.status == PaymentStatus.CAPTURED


async def test_hold_expires_on_the_workflow_timer(
    short_checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
    user: str,
) -> None:
    checkout_id = str(uuid.uuid4())
    held = await short_checkouts.start_and_hold(
        checkout_id, user, event.event_id, event.seat_ids[:2]
    )
    assert held.held

    final = await short_checkouts.result(checkout_id)

    assert final.status == "EXPIRED" and final.failure_reason == "HOLD_EXPIRED"
    assert backends.locks.live_locks(event.event_id, now=0) == []  # deleted, not just expired
    with pytest.raises(DomainError) as refused:
        await short_checkouts.submit_payment(checkout_id, TOKEN_APPROVE)
    assert refused.value.code in (ErrorCode.CHECKOUT_CLOSED, ErrorCode.NOT_FOUND)
    await assert_no_violations(engine, backends, temporal_client, event)
    await record(temporal_client, short_checkouts, checkout_id, "expired")


async def test_cancel_releases_the_hold(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    event: EventFixture,
    user: str,
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:2])
    await checkouts.hold(checkout_id, event.seat_ids[2:3])

    state = await checkouts.cancel(checkout_id)

    assert state.status == "CANCELLED"
    assert backends.locks.live_locks(event.event_id, now=0) == []
    with pytest.raises(DomainError) as refused:
        await checkouts.cancel(checkout_id)
    assert refused.value.code == ErrorCode.CHECKOUT_CLOSED
    await record(temporal_client, checkouts, checkout_id, "cancelled")


async def test_checkouts_start_with_the_configured_workflow_task_timeout(
    temporal_client: Client, settings: Settings, worker: None, event: EventFixture, user: str
) -> None:
    checkouts = CheckoutClient(
        temporal_client, settings.task_queue, task_timeout=timedelta(seconds=25)
    )
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:1])
    described = await temporal_client.get_workflow_handle(workflow_id(checkout_id)).describe()
    task_timeout = described.raw_description.execution_config.default_workflow_task_timeout
    assert task_timeout.ToSeconds() == 25
    await checkouts.cancel(checkout_id)


async def test_extend_is_bounded(checkouts: CheckoutClient, event: EventFixture, user: str) -> None:
    checkout_id = str(uuid.uuid4())
    held = await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:1])
    first = await checkouts.extend(checkout_id)
    second = await checkouts.extend(checkout_id)
    assert held.expires_at is not None and first.expires_at is not None
    assert first.expires_at >= held.expires_at and second.extensions_used == 2
    with pytest.raises(DomainError) as refused:
        await checkouts.extend(checkout_id)
    assert refused.value.code == ErrorCode.EXTENSION_LIMIT
    await checkouts.cancel(checkout_id)


async def test_bad_input_is_refused_and_changes_nothing(
    checkouts: CheckoutClient, backends: Backends, event: EventFixture, user: str
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:1])
    for seats, code in [
        (["not-a-uuid"], ErrorCode.INVALID_INPUT),
        ([event.seat_ids[1], event.seat_ids[1]], ErrorCode.DUPLICATE_SEATS),
        (event.seat_ids[1:8] + [str(uuid.uuid4()) for _ in range(4)], ErrorCode.TOO_MANY_SEATS),
    ]:
        with pytest.raises(DomainError) as refused:
            await checkouts.hold(checkout_id, seats)
        assert refused.value.code == code
    unknown = await checkouts.hold(checkout_id, [str(uuid.uuid4())])
    assert not unknown.held and unknown.failure_reason == "NOT_FOUND"
    state = await checkouts.state(checkout_id)
    assert state.seat_ids == event.seat_ids[:1] and state.status == "HELD"
    assert [lock.seat_id for lock in backends.locks.live_locks(event.event_id)] == state.seat_ids
    with pytest.raises(DomainError) as mismatch:
        await checkouts.submit_payment(checkout_id, None, seat_ids=event.seat_ids[:2])
    assert mismatch.value.code == ErrorCode.LOCK_INVALID
    await checkouts.cancel(checkout_id)


async def test_lock_expired_during_payment_loses_to_the_new_holder(
    checkouts: CheckoutClient,
    temporal_client: Client,
    backends: Backends,
    engine: Engine,
    event: EventFixture,
    dynamodb: object,
    settings: object,
) -> None:
    seat = event.seat_ids[0]
    slow, fast = str(uuid.uuid4()), str(uuid.uuid4())
    await checkouts.start_and_hold(slow, create_user(engine), event.event_id, [seat])
    # The slow buyer's lock lapses in DynamoDB while its workflow still counts on it.
    dynamodb.update_item(  # type: ignore[attr-defined]
        TableName=settings.seat_lock_table,  # type: ignore[attr-defined]
        Key={"pk": {"S": f"{event.event_id}#{seat}"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )
    taken = await checkouts.start_and_hold(fast, create_user(engine), event.event_id, [seat])
    assert taken.held
    won = await checkouts.submit_payment(fast, TOKEN_APPROVE)
    assert won.status == "CONFIRMED"

    lost = await checkouts.submit_payment(slow, TOKEN_APPROVE)

    assert lost.status == "FAILED" and lost.failure_reason == "SEATS_UNAVAILABLE"
    intent = backends.payments.find_by_checkout(slow)
    assert intent is not None and intent.status == PaymentStatus.VOIDED
    booking = backends.bookings.get_by_checkout(fast)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    assert seat_statuses(engine, event)[seat] == "BOOKED"
    await assert_no_violations(engine, backends, temporal_client, event)
    await record(temporal_client, checkouts, slow, "confirm_refused")


async def test_query_reports_the_whole_state(
    checkouts: CheckoutClient, event: EventFixture, user: str
) -> None:
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(checkout_id, user, event.event_id, event.seat_ids[:2])
    state: CheckoutState = await checkouts.state(checkout_id)
    assert state.status == "HELD" and state.amount == "80.00" and state.currency == "USD"
    assert state.expires_at and state.deadline and state.deadline > state.expires_at
    with pytest.raises(DomainError) as missing:
        await checkouts.state(str(uuid.uuid4()))
    assert missing.value.code == ErrorCode.NOT_FOUND
    await checkouts.cancel(checkout_id)
