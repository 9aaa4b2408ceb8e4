"""The end of the wait (sold out, closed, the room switched off) wakes the subscriptions waiting
on the event at once; any other change of the process's copy of the event does not."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from adapters.waiting_room_events import RoomEvent
from adapters.waiting_room_service import HoldLatency, WaitingRoom
from config.settings import Settings

EVENT = "e1"


def room_reading(*copies: RoomEvent) -> WaitingRoom:
    """A room whose reads of the event return ``copies`` in turn."""
    answers = list(copies)

    async def run_sync(*_: Any) -> RoomEvent:
        return answers.pop(0)

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
