"""queueUpdates sends every change of what the buyer is shown, and stops at a final state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import TimeoutError as RedisTimeout

from adapters.waiting_room_service import QueueStatus
from api.resolvers.queue import _updates
from domain.waiting_room import QueueState
from tests.unit.test_room_clock import ON_SALE, Store, room_on

EVENT = ON_SALE.id


def waiting(ahead: int, may_come_back: bool = False) -> QueueStatus:
    return QueueStatus(
        EVENT,
        True,
        QueueState.WAITING,
        position=ahead + 1,
        ahead=ahead,
        eta_seconds=None,
        seats_may_come_back=may_come_back,
        poll_after_ms=1,
    )


class ScriptedRoom:
    def __init__(self, answers: list[QueueStatus | Exception]) -> None:
        self._answers = answers

        self.waits: list[float] = []

    async def pushed_status(self, user_id: str, event_id: str) -> QueueStatus:
        answer = self._answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def until_changed(self, event_id: str, seconds: float) -> None:
        self.waits.append(seconds)


async def test_each_change_is_sent_once_until_the_turn_comes() -> None:
    admitted = QueueStatus(EVENT, True, QueueState.ADMITTED, admission="t", poll_after_ms=1)
    expired = QueueStatus(EVENT, True, QueueState.TURN_EXPIRED, poll_after_ms=1)
    room: Any = ScriptedRoom(
        [
            waiting(3),
            waiting(3, may_come_back=True),
            waiting(3, True),
            waiting(1, True),
            admitted,
            admitted,
            expired,
        ]
    )

    sent = [s async for s in _updates(room, "u1", EVENT, waiting(3))]

    assert [(s.state, s.ahead, s.seats_may_come_back) for s in sent] == [
        (QueueState.WAITING, 3, False),
        (QueueState.WAITING, 3, True),  # "held seats may come back" is news on its own
        (QueueState.WAITING, 1, True),
        (QueueState.ADMITTED, None, False),
        (QueueState.TURN_EXPIRED, None, False),
    ]


async def test_it_asks_again_as_the_room_suggests_however_long() -> None:
    near = QueueStatus(EVENT, True, QueueState.WAITING, position=2, poll_after_ms=1_000)
    far_back = QueueStatus(EVENT, True, QueueState.WAITING, position=900, poll_after_ms=15_000)
    expired = QueueStatus(EVENT, True, QueueState.TURN_EXPIRED, poll_after_ms=1)
    room: Any = ScriptedRoom([far_back, expired])

    [s async for s in _updates(room, "u1", EVENT, near)]

    # no floor of its own: the room's clock admits while its buyers wait
    assert room.waits == [1.0, 15.0]


async def test_a_failed_read_of_the_room_is_asked_again_not_the_end_of_the_updates() -> None:
    expired = QueueStatus(EVENT, True, QueueState.TURN_EXPIRED, poll_after_ms=1)
    room: Any = ScriptedRoom([RedisTimeout("Timeout connecting to server"), waiting(1), expired])

    sent = [s async for s in _updates(room, "u1", EVENT, waiting(3))]

    assert [s.ahead for s in sent] == [3, 1, None]
    assert len(room.waits) == 3  # it waited before asking again


async def test_a_crowd_of_subscriptions_reads_the_room_a_few_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("adapters.waiting_room_service.PUSHES_AT_ONCE", 4)
    room = room_on(Store(), [ON_SALE])
    reading, most = 0, 0

    async def status(user_id: str, event_id: str) -> QueueStatus:
        nonlocal reading, most
        reading += 1
        most = max(most, reading)
        await asyncio.sleep(0.001)
        reading -= 1
        return waiting(1)

    monkeypatch.setattr(room, "status", status)

    await asyncio.gather(*(room.pushed_status(f"u{i}", EVENT) for i in range(50)))

    assert most == 4
