"""The waiting room's clock on the real services: the room admits while nobody asks, and the
clock ends with the wait and with the app."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from adapters.waiting_room_service import WaitingRoom
from api.app import create_app
from api.services import Services
from bootstrap import build_services, waiting_room
from config.settings import Settings

pytestmark = pytest.mark.usefixtures("api_worker")


def clock_of(room: WaitingRoom, event_id: str) -> asyncio.Task[None] | None:
    return room._clocks.get(event_id)  # noqa: SLF001


@pytest.fixture
async def clocked(services: Services) -> AsyncIterator[WaitingRoom]:
    """A room of its own with its clock started, admitting one buyer a second (the API's own
    has no clock: the tests' app runs no lifespan)."""
    slow = services.settings.model_copy(
        update={"waiting_room_min_rate": 1.0, "waiting_room_max_rate": 1.0}
    )
    room = waiting_room(slow, services)
    room.start_clock()
    try:
        yield room
    finally:
        await room.aclose()


async def admitted(room: WaitingRoom, event_id: str) -> int:
    """The room's cursor, read as an operator does: no ask, no tick."""
    return int((await room.operator_view(event_id))["admitted"])


async def test_the_room_admits_on_its_clock_while_nobody_asks(
    clocked: WaitingRoom, event_factory: Any
) -> None:
    event = event_factory(seats=40)  # 16 turns of 2.5 seats: the pace, not the seats, decides
    await clocked.switch(event.id, True)
    for _ in range(8):
        await clocked.join(str(uuid.uuid4()), event.id)
    before = await admitted(clocked, event.id)
    assert before < 6  # one a second: the joins' own ticks admitted only the first

    # Nobody asks from here on: only the clock can move the cursor.
    deadline = time.monotonic() + 30
    while await admitted(clocked, event.id) < before + 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await admitted(clocked, event.id) >= before + 2


@pytest.mark.parametrize("end", ["room switched off", "sold out"])
async def test_the_clock_ends_with_the_wait(
    clocked: WaitingRoom, event_factory: Any, engine: Engine, end: str
) -> None:
    event = event_factory(seats=4)
    await clocked.switch(event.id, True)
    await clocked.join(str(uuid.uuid4()), event.id)
    clock = clock_of(clocked, event.id)
    assert clock is not None and not clock.done()

    if end == "room switched off":
        await clocked.switch(event.id, False)
    else:  # the clock's copy of the event finds it within its second of staleness
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE events SET status = 'SOLD_OUT' WHERE id = :e"), {"e": event.id}
            )
    await asyncio.wait_for(clock, 10)
    assert clock_of(clocked, event.id) is None


async def test_the_apps_lifespan_runs_the_rooms_clocks_and_ends_them(
    api_settings: Settings, temporal_client: Client, event_factory: Any
) -> None:
    services = build_services(api_settings, temporal_client)
    room = services.waiting_room
    assert room is not None
    event = event_factory(seats=4)
    app = create_app(api_settings, services=services, configure_logs=False)
    try:
        async with app.router.lifespan_context(app):
            await room.switch(event.id, True)
            await room.join(str(uuid.uuid4()), event.id)
            clock = clock_of(room, event.id)
            assert clock is not None and not clock.done()
        assert clock.done() and clock_of(room, event.id) is None
    finally:
        await services.close()
