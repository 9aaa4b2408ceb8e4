"""Request rate limits per user and per client IP, counted in Redis (shared by all replicas).

Sliding-window counters, the algorithm of the ``limits`` library (whose parser reads the
settings' "600/minute"): a window's count is its current fixed window's count plus the previous
one's, weighted by how much of it the sliding window still covers.

Both windows of a request are checked and counted by one Lua script, in one round trip. With
``limits``' own storage they were two script calls per request, 23% of the API's CPU on its
fast paths (cached seat maps and refused holds, py-spy). A request that either window refuses
counts against neither.

A Redis outage fails open: availability of the sale matters more than the limit, and the
outage itself is visible in ``/health/cache``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aredis
from limits import RateLimitItem, parse

log = logging.getLogger(__name__)

# KEYS: each window's previous and current counter, in pairs. ARGV: each window's limit, weight
# of its previous counter (0..1] and period in ms, in threes. Returns {0} when every window
# allows the request, which is then counted in each; else {i, previous, current} of the first
# window i that refuses it, and nothing is counted.
_HIT = """
local windows = #KEYS / 2
for i = 1, windows do
  local previous = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local current = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if math.floor(previous * tonumber(ARGV[3 * i - 1])) + current + 1 > tonumber(ARGV[3 * i - 2]) then
    return {i, previous, current}
  end
end
for i = 1, windows do
  redis.call('INCR', KEYS[2 * i])
  redis.call('PEXPIRE', KEYS[2 * i], 2 * tonumber(ARGV[3 * i]))
end
return {0}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    scope: str = ""  # "user" or "ip" when refused
    retry_after: int = 0


def seconds_until_allowed(
    limit: int, period_ms: int, elapsed_ms: int, previous: int, current: int
) -> int:
    """Whole seconds until one more request fits a sliding window that holds ``previous``
    (last fixed window) and ``current`` requests, ``elapsed_ms`` into the current fixed window.

    The script admits a request when ``floor(previous * weight) + current + 1 <= limit``; the
    weight falls linearly from 1 to 0 over the current fixed window. Once the current one is
    full, its count becomes the next window's ``previous`` and falls in turn. Only asked about a
    refused request, so ``previous`` is at least 1 while the current window has room.
    """
    if current + 1 <= limit:
        # floor(previous * weight) <= room  <=>  weight < (room + 1) / previous
        room = limit - current - 1
        wait_ms = period_ms * (1 - (room + 1) / previous) - elapsed_ms
    else:
        wait_ms = period_ms - elapsed_ms + period_ms * (1 - limit / current)
    # the inequalities are strict: a millisecond past the bound
    return max(1, math.ceil((wait_ms + 1) / 1000))


class RateLimiter:
    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        per_user: str,
        per_ip: str,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self._user_limit: RateLimitItem = parse(per_user)
        self._ip_limit: RateLimitItem = parse(per_ip)
        self._prefix = f"{prefix}ratelimit"
        self._hit = client.register_script(_HIT)
        self._clock = clock

    async def check(self, ip: str, user_id: str | None) -> Verdict:
        if not self.enabled:
            return Verdict(True)
        windows = [("ip", self._ip_limit, ip)]
        if user_id:
            windows.append(("user", self._user_limit, user_id))
        now_ms = int(self._clock() * 1000)
        keys: list[str] = []
        args: list[int | float] = []
        for scope, item, who in windows:
            period_ms = item.get_expiry() * 1000
            number, elapsed_ms = divmod(now_ms, period_ms)
            base = f"{self._prefix}:{scope}:{item.amount}-per-{period_ms}ms:{who}"
            keys += [f"{base}:{number - 1}", f"{base}:{number}"]
            args += [item.amount, 1 - elapsed_ms / period_ms, period_ms]
        try:
            refused, *counts = await self._hit(keys=keys, args=args)
        except Exception as exc:  # storage outage: fail open (see module docstring)
            log.warning("rate limiter unavailable, allowing the request: %s", exc)
            return Verdict(True)
        if not refused:
            return Verdict(True)
        scope, item, _ = windows[int(refused) - 1]
        period_ms = item.get_expiry() * 1000
        retry = seconds_until_allowed(
            item.amount, period_ms, now_ms % period_ms, int(counts[0]), int(counts[1])
        )
        return Verdict(False, scope, retry)
