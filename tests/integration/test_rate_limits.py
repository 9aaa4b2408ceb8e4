"""Rate limits on the run's Redis: both windows in one script, sliding. (Failing open with
Redis down: tests/api/test_operations.py.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis

from api.ratelimit import RateLimiter, Verdict, seconds_until_allowed
from config.settings import Settings

T0 = 1_900_000_040.0  # 20 s into a fixed minute window


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[aredis.Redis]:
    assert settings.redis_url
    connection = aredis.Redis.from_url(settings.redis_url)
    yield connection
    await connection.aclose()


def limiter(client: aredis.Redis, settings: Settings, clock: Clock, **limits: str) -> RateLimiter:
    prefix = f"{settings.redis_prefix}rl-{uuid.uuid4().hex[:8]}:"
    per = {"per_user": "3/minute", "per_ip": "5/minute", **limits}
    return RateLimiter(client, prefix, clock=clock, **per)


async def test_each_window_refuses_past_its_limit_and_refusals_count_nowhere(
    client: aredis.Redis, settings: Settings
) -> None:
    clock = Clock()
    limits = limiter(client, settings, clock)
    verdicts = [await limits.check("10.0.0.1", "ada") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].scope == "user" and verdicts[-1].retry_after >= 1
    # Ada's refused request did not use the address's budget: 3 of 5 are used.
    assert (await limits.check("10.0.0.1", "bob")).allowed
    assert (await limits.check("10.0.0.1", "bob")).allowed
    refused = await limits.check("10.0.0.1", "cy")
    assert (refused.allowed, refused.scope) == (False, "ip")
    assert (await limits.check("10.0.0.2", "cy")).allowed  # another address, another window
    assert (await limits.check("10.0.0.3", None)).allowed  # anonymous: the address window only


async def test_the_window_slides_and_retry_after_is_when_a_request_fits_again(
    client: aredis.Redis, settings: Settings
) -> None:
    clock = Clock()
    limits = limiter(client, settings, clock)
    for _ in range(3):
        assert (await limits.check("10.0.0.1", "ada")).allowed
    refused = await limits.check("10.0.0.1", "ada")
    assert refused == Verdict(False, "user", refused.retry_after)
    # 3 in the window at 0:20. At 1:00 they become the previous window's count, at weight 1
    # (3 + 1 > 3); a moment later floor(3 * weight) is 2 and one more fits: 41 s.
    assert refused.retry_after == 41
    clock.now = T0 + 39
    assert not (await limits.check("10.0.0.1", "ada")).allowed
    clock.now = T0 + refused.retry_after
    assert (await limits.check("10.0.0.1", "ada")).allowed
    assert not (await limits.check("10.0.0.1", "ada")).allowed  # 2 weighted + 1 new = full


@pytest.mark.parametrize(
    ("previous", "current", "elapsed_ms", "expected"),
    [
        (0, 3, 20_000, 41),  # full: 40 s to the next window, where weight 1 still counts 3
        (3, 2, 30_000, 11),  # floor(3 * w) must be 0: w < 1/3, 40 s into the window
        (6, 0, 30_000, 1),  # w < 1/2: a moment from now
        (4, 1, 0, 31),  # floor(4 * w) <= 1: w < 1/2, past 30 s
        (6, 0, 50_000, 1),  # it would fit already: the floor of a second
    ],
)
def test_seconds_until_allowed(previous: int, current: int, elapsed_ms: int, expected: int) -> None:
    assert seconds_until_allowed(3, 60_000, elapsed_ms, previous, current) == expected
