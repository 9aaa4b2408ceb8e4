"""The invariant checker reports a planted violation of each kind (and nothing on clean data)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from adapters.checkout_client import CheckoutClient
from adapters.db import make_engine
from adapters.migrate import upgrade
from adapters.payments import TOKEN_APPROVE
from adapters.seat_claims import SeatClaimRecorder
from audit.invariants import (
    check_all,
    check_bookings,
    check_checkouts,
    check_claims,
    check_locks,
    check_payments,
    check_seat_map,
)
from bootstrap import Backends
from config.settings import Settings
from devstack.databases import create_database, drop_database
from devstack.services import Stack
from tests.factories import EventFixture, create_user, create_venue_event


def _insert_booking(engine: Engine, event: EventFixture, user: str, seat: str, status: str) -> str:
    booking_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bookings (id, reference, checkout_id, user_id, event_id, total_price,"
                " currency, status) VALUES (:id, :ref, :co, :u, :e, 50, 'USD', :s)"
            ),
            {
                "id": booking_id,
                "ref": f"TB-{booking_id[:8]}",
                "co": str(uuid.uuid4()),
                "u": user,
                "e": event.event_id,
                "s": status,
            },
        )
        conn.execute(
            text(
                "INSERT INTO booking_seats (booking_id, seat_id, event_id, price)"
                " VALUES (:b, :seat, :e, 50)"
            ),
            {"b": booking_id, "seat": seat, "e": event.event_id},
        )
    return booking_id


@pytest.fixture
def unguarded_engine(stack: Stack, run_id: str) -> Iterator[Engine]:
    """A scratch database without the double-booking index: the only way to plant one."""
    name = f"tb_unguarded_{run_id}_{uuid.uuid4().hex[:6]}"
    url = create_database(stack.database_url, name)
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX uq_booking_seats_active_event_seat"))
    yield engine
    engine.dispose()
    drop_database(stack.database_url, name)


def test_reports_a_double_booking(unguarded_engine: Engine) -> None:
    event = create_venue_event(unguarded_engine, n_seats=2)
    seat = event.seat_ids[0]
    user = create_user(unguarded_engine)
    assert check_bookings(unguarded_engine, [event.event_id]) == []
    _insert_booking(unguarded_engine, event, user, seat, "CONFIRMED")
    _insert_booking(unguarded_engine, event, user, seat, "CONFIRMED")

    kinds = {v.kind for v in check_bookings(unguarded_engine, [event.event_id])}

    assert "double_booked" in kinds


def test_reports_inventory_that_disagrees_with_bookings(engine: Engine) -> None:
    event = create_venue_event(engine, n_seats=2)
    booking = _insert_booking(engine, event, create_user(engine), event.seat_ids[0], "CANCELLED")
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE event_seats SET status = 'BOOKED', booking_id = :b"
                " WHERE event_id = :e AND seat_id = :s"
            ),
            {"b": booking, "e": event.event_id, "s": event.seat_ids[0]},
        )

    violations = check_bookings(engine, [event.event_id])

    assert [(v.invariant, v.kind) for v in violations] == [(1, "inventory_mismatch")]


def test_reports_a_capture_without_booking(backends: Backends) -> None:
    checkout_id = str(uuid.uuid4())
    intent = backends.payments.authorize(
        f"authorize:{checkout_id}", Decimal("10.00"), "USD", TOKEN_APPROVE, checkout_id=checkout_id
    )
    backends.payments.capture(intent.id, f"capture:{checkout_id}")

    orphans = [v for v in check_payments(backends.payments) if intent.id in v.detail]

    assert [(v.invariant, v.kind) for v in orphans] == [(2, "orphan_charge")]
    backends.payments.refund(intent.id, f"refund:{checkout_id}")
    assert not [v for v in check_payments(backends.payments) if intent.id in v.detail]


async def test_reports_locks_of_finished_or_unknown_checkouts(
    checkouts: CheckoutClient, temporal_client: Client, backends: Backends, engine: Engine
) -> None:
    event = create_venue_event(engine, n_seats=3)
    user = create_user(engine)
    finished = str(uuid.uuid4())
    await checkouts.start_and_hold(finished, user, event.event_id, event.seat_ids[:1])
    await checkouts.cancel(finished)
    now = int(time.time())
    assert await check_locks(temporal_client, backends.locks, [event.event_id], now) == []
    backends.locks.acquire(event.event_id, event.seat_ids[:1], finished, user, 60)
    backends.locks.acquire(event.event_id, event.seat_ids[1:2], str(uuid.uuid4()), user, 60)

    violations = await check_locks(temporal_client, backends.locks, [event.event_id], now)

    assert sorted(v.kind for v in violations) == [
        "lock_of_finished_checkout",
        "lock_without_checkout",
    ]


async def _listed(client: Client, event_id: str, timeout: float = 15.0) -> None:
    query = f"EventId = '{event_id}' AND ExecutionStatus = 'Running'"
    deadline = time.monotonic() + timeout
    while (await client.count_workflows(query)).count == 0:
        assert time.monotonic() < deadline, f"no running checkout of {event_id} listed"
        await asyncio.sleep(0.1)


async def test_reports_claims_of_finished_or_unknown_checkouts(
    checkouts: CheckoutClient,
    temporal_client: Client,
    engine: Engine,
    redis_client: Any,
    settings: Settings,
) -> None:
    event = create_venue_event(engine, n_seats=3)
    user = create_user(engine)
    finished, running = str(uuid.uuid4()), str(uuid.uuid4())
    await checkouts.start_and_hold(finished, user, event.event_id, event.seat_ids[:1])
    await checkouts.cancel(finished)
    await checkouts.start_and_hold(running, user, event.event_id, event.seat_ids[2:])
    claims = SeatClaimRecorder(redis_client, settings.redis_prefix)
    expires = int(time.time()) + 60
    claims.record(event.event_id, event.seat_ids[2:], running, expires)
    now = int(time.time())
    assert await check_claims(temporal_client, claims, [event.event_id], now) == []
    claims.record(event.event_id, event.seat_ids[:1], finished, expires)
    claims.record(event.event_id, event.seat_ids[1:2], str(uuid.uuid4()), expires)

    violations = await check_claims(temporal_client, claims, [event.event_id], now)

    assert sorted(v.kind for v in violations) == [
        "claim_of_finished_checkout",
        "claim_without_checkout",
    ]
    assert await check_claims(temporal_client, claims, [event.event_id], expires + 1) == []
    await checkouts.cancel(running)


async def test_reports_a_checkout_past_its_deadline(
    checkouts: CheckoutClient, temporal_client: Client, engine: Engine
) -> None:
    event = create_venue_event(engine, n_seats=2)
    checkout_id = str(uuid.uuid4())
    held = await checkouts.start_and_hold(
        checkout_id, create_user(engine), event.event_id, event.seat_ids[:1]
    )
    assert held.expires_at is not None
    now = int(time.time())
    assert await check_checkouts(temporal_client, [event.event_id], now) == []

    # Seen from a moment long after the deadline, the still-running checkout is a violation
    # (once visibility lists it: it trails the workflow by a moment, more under load).
    await _listed(temporal_client, event.event_id)
    later = held.expires_at + 10_000
    violations = await check_checkouts(temporal_client, [event.event_id], later)

    assert [(v.invariant, v.kind) for v in violations] == [(4, "checkout_past_deadline")]
    await checkouts.cancel(checkout_id)


def test_reports_a_seat_map_that_diverges(engine: Engine, backends: Backends) -> None:
    event = create_venue_event(engine, n_seats=3)
    now = int(time.time())
    truth = set(event.seat_ids)
    assert check_seat_map(engine, backends.locks, [event.event_id], lambda _e: truth, now) == []

    stale = check_seat_map(
        engine, backends.locks, [event.event_id], lambda _e: truth - {event.seat_ids[0]}, now
    )

    assert [(v.invariant, v.kind) for v in stale] == [(5, "seat_map_divergence")]


async def test_clean_checkout_has_no_violations(
    checkouts: CheckoutClient, temporal_client: Client, backends: Backends, engine: Engine
) -> None:
    event = create_venue_event(engine, n_seats=3)
    checkout_id = str(uuid.uuid4())
    await checkouts.start_and_hold(
        checkout_id, create_user(engine), event.event_id, event.seat_ids[:2]
    )
    await checkouts.submit_payment(checkout_id, TOKEN_APPROVE)
    assert (
        await check_all(
            engine, backends.locks, backends.payments, temporal_client, [event.event_id]
        )
        == []
    )
