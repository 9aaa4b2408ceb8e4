"""A room's clock on one API process: it starts with an ask, ticks on without asks, survives a
tick that fails, and ends when nobody here asks for a while or the room is closed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.waiting_room import BuyerEntry
from adapters.waiting_room_events import RoomEvent
from adapters.waiting_room_service import HoldLatency, WaitingRoom
from config.settings import Settings

EVENT = "e1"
ON_SALE = RoomEvent(EVENT, "ON_SALE", None, True, 4, 100)


class Store:
    """The room's Redis as a tick finds it when another process holds the lease: each try at
    the lease is counted, and ``failing`` of them (by number, from 1) raise."""

    def __init__(self, failing: frozenset[int] = frozenset(), wanted: int = 1) -> None:
        self.leases = 0
        self._failing = failing
        self._wanted = wanted
        self.enough = asyncio.Event()  # set at the ``wanted``-th try

    async def lease(self, event_id: str, ms: int) -> bool:
        self.leases += 1
        if self.leases >= self._wanted:
            self.enough.set()
        if self.leases in self._failing:
            raise RedisConnectionError("Redis went away")
        return False

    async def measure_lease(self, event_id: str, ms: int) -> bool:
        return False

    async def entry(self, event_id: str, user_id: str) -> BuyerEntry:
        return BuyerEntry(None, None, False, False, 0, 1, None, None, 0, None, None, None)


def room_on(store: Store, event: list[RoomEvent]) -> WaitingRoom:
    """A room over ``store`` whose every read of the event finds ``event[0]``."""

    async def run_sync(*_: Any) -> RoomEvent:
        return event[0]

    async def nothing(_: str) -> int:
        return 0

    return WaitingRoom(
        Settings(),
        store=cast(Any, store),
        engine=cast(Any, None),
        run_sync=run_sync,
        available_seats=nothing,
        finished_checkouts=nothing,
        hold_latency=HoldLatency(lambda: (0.0, 0.0)),
        clock=lambda: 1_700_000_000.0,
    )


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adapters.waiting_room_service.TICK_SECONDS", 0.01)
    monkeypatch.setattr("adapters.waiting_room_service.EVENT_TTL_SECONDS", 0.0)


def clock_of(room: WaitingRoom) -> asyncio.Task[None] | None:
    return room._clocks.get(EVENT)  # noqa: SLF001


async def test_a_room_without_its_clock_started_ticks_only_when_asked() -> None:
    store = Store()
    room = room_on(store, [ON_SALE])

    await room.status("u1", EVENT)

    assert clock_of(room) is None and store.leases == 1


async def test_the_clock_ticks_on_after_a_failed_tick_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The ask ticks first (try 1); the clock's next two tries fail, then it goes on.
    store = Store(failing=frozenset({2, 3}), wanted=6)
    room = room_on(store, [ON_SALE])
    room.start_clock()
    try:
        with caplog.at_level(logging.INFO, logger="adapters.waiting_room_service"):
            await room.status("u1", EVENT)
            await asyncio.wait_for(store.enough.wait(), 10)
    finally:
        await room.aclose()

    said = [r.getMessage() for r in caplog.records]
    failed = [m for m in said if "not ticked" in m]
    assert failed == [f"waiting room {EVENT} not ticked: Redis went away"]
    assert f"waiting room {EVENT} ticks again (2 failed)" in said


async def test_the_clock_ends_once_nobody_here_has_asked_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("adapters.waiting_room_service.CLOCK_IDLE_SECONDS", 0.05)
    store = Store()
    room = room_on(store, [ON_SALE])
    room.start_clock()
    try:
        await room.status("u1", EVENT)
        clock = clock_of(room)
        assert clock is not None
        await asyncio.wait_for(clock, 10)
        assert clock_of(room) is None and store.leases > 1  # it ticked, then ended

        await room.status("u1", EVENT)  # a new ask: a new clock
        assert clock_of(room) is not None
    finally:
        await room.aclose()


@pytest.mark.parametrize(
    "over",
    [
        RoomEvent(EVENT, "SOLD_OUT", None, True, 4, 100),
        RoomEvent(EVENT, "CANCELLED", None, True, 4, 100),
        RoomEvent(EVENT, "ON_SALE", None, False, 4, 100),
    ],
    ids=["sold out", "cancelled", "room switched off"],
)
async def test_the_clock_ends_with_the_wait(over: RoomEvent) -> None:
    event = [ON_SALE]
    room = room_on(Store(), event)
    room.start_clock()
    try:
        await room.status("u1", EVENT)
        clock = clock_of(room)
        assert clock is not None
        event[0] = over
        await asyncio.wait_for(clock, 10)
        assert clock_of(room) is None
        # asked about again once the wait is over, the room starts no clock
        if over.room_on:
            await room.status("u1", EVENT)
            assert clock_of(room) is None
    finally:
        await room.aclose()


async def test_closing_the_room_ends_its_clocks_and_starts_no_more() -> None:
    room = room_on(Store(), [ON_SALE])
    room.start_clock()
    await room.status("u1", EVENT)
    clock = clock_of(room)
    assert clock is not None

    await room.aclose()

    assert clock.cancelled() and clock_of(room) is None
    await room.status("u1", EVENT)  # a request still in flight at shutdown
    assert clock_of(room) is None
