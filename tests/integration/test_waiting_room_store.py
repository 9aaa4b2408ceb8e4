"""The waiting room's Redis state (adapters/waiting_room.py) on a real Redis: turns' ends and
the tick's lease."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aredis

from adapters.waiting_room import RedisWaitingRooms
from config.settings import Settings

NOW = 1_700_000_000_000


@pytest.fixture
def rooms(async_redis: aredis.Redis, settings: Settings, redis_client: object) -> RedisWaitingRooms:
    return RedisWaitingRooms(async_redis, f"{settings.redis_prefix}{uuid.uuid4().hex[:8]}:")


async def queue(rooms: RedisWaitingRooms, event: str, buyers: list[str]) -> None:
    for k, buyer in enumerate(buyers):
        assert await rooms.join(event, buyer, True, 0.0, NOW + k)


async def test_turns_count_as_ended_when_their_deadline_passes_used_or_lost(
    rooms: RedisWaitingRooms,
) -> None:
    event = str(uuid.uuid4())
    await queue(rooms, event, ["a", "b", "c"])
    assert await rooms.admit(event, 0, 2, NOW + 30_000, NOW, {}) == 2  # a and b, until +30 s
    await rooms.turn_used(event, "a", 2, NOW + 1_300)
    # Before the deadline nothing is decided: a used turn is not yet counted, lest the turns
    # used early hide the losses still to come.
    early = await rooms.snapshot(event, NOW + 10_000)
    assert (early.ended, early.lost, early.outstanding) == (0, 0, 1)
    assert await rooms.admit(event, 2, 1, NOW + 40_000, NOW + 10_000, {}) == 1  # c, until +40 s
    after = await rooms.snapshot(event, NOW + 30_000)
    assert (after.ended, after.lost, after.outstanding) == (2, 1, 1)  # a used, b lost; c runs
    again = await rooms.snapshot(event, NOW + 35_000)
    assert again.ended == 2  # each turn counted once
    last = await rooms.snapshot(event, NOW + 40_000)
    assert (last.ended, last.lost, last.outstanding) == (3, 2, 0)


async def test_the_ticks_lease_lasts_until_its_admission_is_applied(
    rooms: RedisWaitingRooms,
) -> None:
    event = str(uuid.uuid4())
    await queue(rooms, event, ["a", "b"])
    assert await rooms.lease(event, 60_000)
    assert not await rooms.lease(event, 60_000)  # one tick at a time, in any process
    assert await rooms.admit(event, 0, 1, NOW + 30_000, NOW, {}) == 1
    assert await rooms.lease(event, 60_000)  # the tick is over: the next may start at once
    # A tick that lost the race to another process's (the cursor moved) ends its lease too.
    assert await rooms.admit(event, 0, 1, NOW + 30_000, NOW, {}) == -1
    assert await rooms.lease(event, 60_000)


async def test_answered_payments_count_their_seats_by_the_second_submitted(
    rooms: RedisWaitingRooms,
) -> None:
    event = str(uuid.uuid4())
    await queue(rooms, event, ["a", "b", "c"])
    assert await rooms.admit(event, 0, 3, NOW + 30_000, NOW, {}) == 3
    await rooms.payment_answered(event, 3, paid=True, submitted_ms=NOW + 2_500)
    await rooms.payment_answered(event, 2, paid=False, submitted_ms=NOW + 2_900)
    await rooms.payment_answered(event, 1, paid=True, submitted_ms=NOW)
    snap = await rooms.snapshot(event, NOW + 5_000)
    second = NOW // 1000
    assert snap.payments == ((second, 1, 0), (second + 2, 3, 2))
    other = await rooms.snapshot(str(uuid.uuid4()), NOW)
    assert other.payments == ()  # per room


async def test_a_turns_first_hold_counts_how_long_after_the_turn_it_came(
    rooms: RedisWaitingRooms,
) -> None:
    event = str(uuid.uuid4())
    await queue(rooms, event, ["a", "b", "c"])
    assert await rooms.admit(event, 0, 2, NOW + 30_000, NOW, {}) == 2  # a and b, at NOW
    assert await rooms.admit(event, 2, 1, NOW + 32_000, NOW + 2_000, {}) == 1  # c, 2 s later
    await rooms.turn_used(event, "a", 2, NOW + 1_300)  # 1.3 s after its turn
    await rooms.turn_used(event, "a", 1, NOW + 9_000)  # a second hold in the turn: not again
    await rooms.turn_used(event, "b", 1, NOW + 1_400)
    await rooms.turn_used(event, "c", 3, NOW + 2_100)  # 0.1 s after its own turn
    snap = await rooms.snapshot(event, NOW + 3_000)
    assert snap.hold_delays_ms == ((125, 1), (1375, 2))  # quarter seconds, at their middle
    assert (snap.turns_used, snap.turn_seats) == (3, 7)
