"""seatMapChanges' stream: it outlives a dropped Redis subscription and says what was missed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from api.resolvers import subscriptions
from api.resolvers.subscriptions import RESYNC, changes


class Feed:
    """A scripted subscription: hands out its messages, then fails if told to."""

    def __init__(self, changes: list[str], then_fails: bool) -> None:
        self._messages = [
            {"type": "message", "data": json.dumps({"eventId": "e1", "kind": k, "seatIds": ["s"]})}
            for k in changes
        ]
        self._then_fails = then_fails
        self.closed = False

    async def get_message(self, **_: Any) -> dict[str, Any] | None:
        if self._messages:
            return self._messages.pop(0)
        if self._then_fails:
            raise RedisConnectionError("Connection closed by server.")
        return None

    async def unsubscribe(self) -> None:
        raise RedisConnectionError("Connection closed by server.")  # Redis is down

    async def aclose(self) -> None:
        self.closed = True


async def test_a_lost_subscription_is_taken_again_and_the_subscriber_told_to_resync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(subscriptions, "RESUBSCRIBE_SECONDS", 0.0)
    first, second = Feed(["held"], then_fails=True), Feed(["released"], then_fails=False)
    attempts: list[Feed] = [second]

    async def subscribed() -> Any:
        if not attempts:
            raise AssertionError("subscribed more than once after the loss")
        return attempts.pop(0)

    stream = changes(subscribed, first, "e1")
    kinds = [(await anext(stream))["kind"] for _ in range(3)]
    await stream.aclose()

    assert kinds == ["held", RESYNC, "released"]
    assert first.closed and second.closed  # each subscription let go, Redis down or not
