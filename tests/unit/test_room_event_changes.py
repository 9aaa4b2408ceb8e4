"""The process's copy of an event: the end of the wait (sold out, closed, the room switched off)
wakes the subscriptions waiting on the event at once, any other change does not; however many
callers find the copy stale at once, the event is read once."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from adapters.waiting_room_events import RoomEvent
from adapters.waiting_room_service import HoldLatency, WaitingRoom
from config.settings import Settings

EVENT = "e1"


def room_reading(*copies: RoomEvent, gate: asyncio.Event | None = None) -> WaitingRoom:
    """A room whose reads of the event return ``copies`` in turn, each once ``gate`` is set."""
    answers = list(copies)

    async def run_sync(*_: Any) -> RoomEvent:
        answer = answers.pop(0)  # at the read's start: a second read takes the next copy
        if gate is not None:
            await gate.wait()
        return answer

    async def nothing(_: str) -> int:
        return 0

    return WaitingRoom(
        Settings(),
        store=cast(Any, None),  # never reached: only the event is read
        engine=cast(Any, None),
        run_sync=run_sync,
        available_seats=nothing,
        finished_checkouts=nothing,
        hold_latency=HoldLatency(lambda: (0.0, 0.0)),
    )


def copy(status: str, switched_on: bool = True, sellable: int = 100) -> RoomEvent:
    return RoomEvent(EVENT, status, None, switched_on, 4, sellable)


async def waiting_across(changed: RoomEvent) -> asyncio.Task[None]:
    """A subscription's wait (30 s) while the process reads the event again and finds it
    ``changed`` from on sale."""
    room = room_reading(copy("ON_SALE"), changed)
    await room.event(EVENT)
    waiting = asyncio.create_task(room.until_changed(EVENT, 30))
    await asyncio.sleep(0)
    room.forget(EVENT)
    await room.event(EVENT)
    return waiting


@pytest.mark.parametrize(
    "changed",
    [copy("SOLD_OUT"), copy("CANCELLED"), copy("ON_SALE", switched_on=False)],
    ids=["sold out", "cancelled", "room switched off"],
)
async def test_the_end_of_the_wait_wakes_the_waiting_subscriptions_at_once(
    changed: RoomEvent,
) -> None:
    await asyncio.wait_for(await waiting_across(changed), 1)


@pytest.mark.parametrize(
    "changed",
    [copy("ON_SALE", sellable=90), copy("PAUSED")],
    ids=["seats taken off sale", "paused"],
)
async def test_a_change_that_does_not_end_the_wait_lets_them_sleep(changed: RoomEvent) -> None:
    waiting = await waiting_across(changed)
    await asyncio.sleep(0.05)

    assert not waiting.done()
    waiting.cancel()


async def test_without_a_change_the_wait_ends_at_its_time() -> None:
    room = room_reading(copy("ON_SALE"))
    await room.event(EVENT)

    await asyncio.wait_for(room.until_changed(EVENT, 0.01), 1)


async def test_callers_that_find_the_copy_stale_together_share_one_read() -> None:
    gate = asyncio.Event()
    room = room_reading(copy("ON_SALE"), copy("SOLD_OUT"), gate=gate)
    callers = [asyncio.create_task(room.event(EVENT)) for _ in range(50)]
    await asyncio.sleep(0.01)
    gate.set()

    found = await asyncio.gather(*callers)

    assert {event.status for event in found if event is not None} == {"ON_SALE"}  # one read
    assert room.cached_event(EVENT) == copy("ON_SALE")


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others() -> None:
    gate = asyncio.Event()
    room = room_reading(copy("ON_SALE"), gate=gate)
    impatient = asyncio.create_task(room.event(EVENT))
    patient = asyncio.create_task(room.event(EVENT))
    await asyncio.sleep(0.01)
    impatient.cancel()
    gate.set()

    assert await patient == copy("ON_SALE")


async def test_a_read_begun_before_a_change_is_not_kept_as_the_copy() -> None:
    gate = asyncio.Event()
    room = room_reading(copy("ON_SALE"), copy("SOLD_OUT"), gate=gate)
    before = asyncio.create_task(room.event(EVENT))
    await asyncio.sleep(0.01)
    room.forget(EVENT)  # the event changed (the room switched, the sale sold out) after it began
    after = asyncio.create_task(room.event(EVENT))
    await asyncio.sleep(0.01)
    gate.set()

    assert (await before, await after) == (copy("ON_SALE"), copy("SOLD_OUT"))
    assert room.cached_event(EVENT) == copy("SOLD_OUT")
