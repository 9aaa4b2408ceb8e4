"""Rate limits on the run's Redis: both windows in one script, sliding. (Failing open with
Redis down: tests/api/test_operations.py.)"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aredis

from api.ratelimit import RateLimiter, Verdict, lease_size, seconds_until_allowed
from config.settings import Settings

T0 = 1_900_000_040.0  # 20 s into a fixed minute window


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(async_redis: aredis.Redis) -> aredis.Redis:
    return async_redis


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


class CountingScript:
    """Wraps a limiter's script: how many round trips to Redis its checks made."""

    def __init__(self, limits: RateLimiter) -> None:
        self.calls = 0
        self._script = limits._hit
        limits._hit = self  # type: ignore[assignment]

    async def __call__(self, **kwargs: object) -> object:
        self.calls += 1
        return await self._script(**kwargs)


async def test_a_process_leases_a_block_of_requests_per_round_trip(
    client: aredis.Redis, settings: Settings
) -> None:
    clock = Clock()
    limits = limiter(client, settings, clock, per_user="1000/minute", per_ip="100000/minute")
    script = CountingScript(limits)
    assert lease_size(1000) == 20 and lease_size(100_000) == 100

    for _ in range(45):
        assert (await limits.check("10.0.0.1", "ada")).allowed
    # 45 requests: Ada's window leased 20 three times, the address's window 100 once.
    assert script.calls == 3
    minute = int(T0 // 60)
    prefix = limits._prefix
    counted = await client.mget(
        f"{prefix}:user:1000-per-60000ms:ada:{minute}",
        f"{prefix}:ip:100000-per-60000ms:10.0.0.1:{minute}",
    )
    assert [int(c) for c in counted] == [60, 100]

    # The next fixed window voids what is left: its first request leases again.
    clock.now = T0 + 60
    assert (await limits.check("10.0.0.1", "ada")).allowed
    assert script.calls == 4


async def test_replicas_never_admit_more_than_the_limit_together(
    client: aredis.Redis, settings: Settings
) -> None:
    clock = Clock()
    prefix = f"{settings.redis_prefix}rl-{uuid.uuid4().hex[:8]}:"
    replicas = [
        RateLimiter(client, prefix, per_user="100/minute", per_ip="100000/minute", clock=clock)
        for _ in range(3)
    ]
    admitted = 0
    for i in range(150):
        admitted += (await replicas[i % 3].check("10.0.0.1", "ada")).allowed
    # Every token is counted in Redis before it is used; at most one lease (2) per replica is
    # left unused when the window is full.
    assert 100 - 3 * lease_size(100) <= admitted <= 100
    refused = await replicas[0].check("10.0.0.1", "ada")
    assert not refused.allowed and refused.scope == "user"


@pytest.mark.parametrize(("limit", "requests"), [(4, 10), (200, 250)])
async def test_concurrent_requests_share_leases_without_passing_the_limit(
    client: aredis.Redis, settings: Settings, limit: int, requests: int
) -> None:
    clock = Clock()
    limits = limiter(client, settings, clock, per_user=f"{limit}/minute", per_ip="100000/minute")
    verdicts = await asyncio.gather(*(limits.check("10.0.0.1", "ada") for _ in range(requests)))
    admitted = sum(v.allowed for v in verdicts)
    base = f"{limits._prefix}:user:{limit}-per-60000ms:ada"
    counted = int(await client.get(f"{base}:{int(T0 // 60)}"))
    # The window's whole room was counted in Redis, and every counted token was either used
    # or is still held by this process: none was used uncounted.
    assert counted == limit
    assert admitted + limits._leases[base].tokens == counted


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
