"""Shared by the event lifecycle and cancellation end-to-end tests: events in PostgreSQL with
chosen dates and status (the organizer's createEvent is another module's), and reads."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from temporalio.client import Client

from adapters.orm import Event
from tests.factories import EventFixture, create_venue_event

HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "events"


def event_with_dates(
    engine: Engine,
    status: str = "DRAFT",
    on_sale_in: float | None = None,
    event_in: float = 30 * 86400,
    n_seats: int = 6,
) -> EventFixture:
    """A fresh event whose sale opens ``on_sale_in`` seconds from now (None: at publishing)
    and which takes place ``event_in`` seconds from now."""
    event = create_venue_event(engine, n_seats=n_seats, status=status)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(Event)
            .where(Event.id == uuid.UUID(event.event_id))
            .values(
                on_sale_at=None if on_sale_in is None else now + timedelta(seconds=on_sale_in),
                event_date=now + timedelta(seconds=event_in),
            )
        )
    return event


def status_of(engine: Engine, event_id: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(Event.status).where(Event.id == uuid.UUID(event_id))).scalar_one()
        )


async def wait_for(
    check: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = "condition"
) -> float:
    """Polls ``check`` until true; answers the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s")


async def record(client: Client, workflow_id: str, name: str) -> None:
    """With RECORD_HISTORIES=1, keeps the workflow's history for the replay test."""
    if os.environ.get("RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    HISTORIES.mkdir(parents=True, exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
