"""Request rate limits per user and per client IP, counted in Redis (shared by all replicas).

Sliding-window counters, the algorithm of the ``limits`` library (whose parser reads the
settings' "600/minute"): a window's count is its current fixed window's count plus the previous
one's, weighted by how much of it the sliding window still covers.

Both windows of a request are checked and counted by one Lua script, in one round trip
(``limits``' own storage takes a script call per window), and a request that either window
refuses counts against neither.

Each process counts in **leases**: when a window has no tokens left here, the script counts a
block of requests at once (a fiftieth of the limit, at most 100, never more than the window
has room for) and this process admits that many before asking again, so a window costs a
call per block, and a buyer's few requests one call. What leases save: a script call per
request was 21% of the API's CPU in a profile of a 10,000-buyer sale
(``docs/measurements.md``). Nothing is ever admitted past the limit, across all replicas:
every token is counted in Redis before it is used. What a lease costs is strictness: tokens a
process leased and did not use count as requests of their fixed window (and so, weighted, of
the sliding window after it), so with R replicas a window may refuse up to R leases early (2%
of the limit each). Near the limit the lease shrinks to the room left, so a single client
within one fixed window sees the limit exactly; across a window's end it may lose the unused
part of one lease.

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
# of its previous counter (0..1], period in ms and lease, in fours. When every window has room,
# each is counted its lease, or the room it has left if less, and {0, counted...} is returned;
# else {i, previous, current} of the first window i without room, and nothing is counted.
_HIT = """
local windows = #KEYS / 2
local granted = {}
for i = 1, windows do
  local previous = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local current = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local weighted = math.floor(previous * tonumber(ARGV[4 * i - 2]))
  local room = tonumber(ARGV[4 * i - 3]) - weighted - current
  if room < 1 then
    return {i, previous, current}
  end
  granted[i] = math.min(room, tonumber(ARGV[4 * i]))
end
for i = 1, windows do
  redis.call('INCRBY', KEYS[2 * i], granted[i])
  redis.call('PEXPIRE', KEYS[2 * i], 2 * tonumber(ARGV[4 * i - 1]))
end
table.insert(granted, 1, 0)
return granted
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


# A lease is this share of a window's limit, at most LEASE_MAX requests (see the docstring).
LEASE_SHARE = 50
LEASE_MAX = 100


def lease_size(limit: int) -> int:
    return max(1, min(LEASE_MAX, limit // LEASE_SHARE))


@dataclass
class _Lease:
    """Requests this process may still admit in one fixed window of one key."""

    period_ms: int
    window: int  # the fixed window's number (epoch ms // period)
    tokens: int


@dataclass(frozen=True)
class _Window:
    scope: str
    item: RateLimitItem
    base: str  # the counters' key, without the window number
    period_ms: int
    number: int
    elapsed_ms: int


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
        self._leases: dict[str, _Lease] = {}
        self._newest_window: dict[int, int] = {}  # period -> newest window number seen

    async def check(self, ip: str, user_id: str | None) -> Verdict:
        if not self.enabled:
            return Verdict(True)
        now_ms = int(self._clock() * 1000)
        windows = [self._window("ip", self._ip_limit, ip, now_ms)]
        if user_id:
            windows.append(self._window("user", self._user_limit, user_id, now_ms))
        # Other requests run while this one waits for Redis: they may use the tokens it
        # leased, or lease some of their own that it can use, so it looks again each time.
        while short := [w for w in windows if self._tokens(w) == 0]:
            granted = await self._lease(short)
            if isinstance(granted, Verdict):
                if any(self._tokens(w) == 0 for w in windows):
                    return granted
                break
            for window, count in zip(short, granted, strict=True):
                self._add_tokens(window, count)
        for window in windows:
            self._leases[window.base].tokens -= 1
        return Verdict(True)

    def _window(self, scope: str, item: RateLimitItem, who: str, now_ms: int) -> _Window:
        period_ms = item.get_expiry() * 1000
        number, elapsed_ms = divmod(now_ms, period_ms)
        newest = self._newest_window.setdefault(period_ms, number)
        if number > newest:
            self._forget_before(period_ms, number)
            self._newest_window[period_ms] = number
        base = f"{self._prefix}:{scope}:{item.amount}-per-{period_ms}ms:{who}"
        return _Window(scope, item, base, period_ms, number, elapsed_ms)

    def _tokens(self, window: _Window) -> int:
        lease = self._leases.get(window.base)
        if lease is None or lease.window != window.number:
            return 0
        return lease.tokens

    def _add_tokens(self, window: _Window, count: int) -> None:
        lease = self._leases.get(window.base)
        if lease is None or lease.window != window.number:
            self._leases[window.base] = _Lease(window.period_ms, window.number, count)
        else:
            lease.tokens += count

    def _forget_before(self, period_ms: int, number: int) -> None:
        """Drops the leases of fixed windows that have ended (their tokens are void)."""
        self._leases = {
            base: lease
            for base, lease in self._leases.items()
            if lease.period_ms != period_ms or lease.window >= number
        }

    async def _lease(self, windows: list[_Window]) -> list[int] | Verdict:
        """Counts a lease of each window in Redis: the tokens granted, or the refusal."""
        keys: list[str] = []
        args: list[int | float] = []
        for w in windows:
            keys += [f"{w.base}:{w.number - 1}", f"{w.base}:{w.number}"]
            args += [
                w.item.amount,
                1 - w.elapsed_ms / w.period_ms,
                w.period_ms,
                lease_size(w.item.amount),
            ]
        try:
            refused, *counts = await self._hit(keys=keys, args=args)
        except Exception as exc:  # storage outage: fail open (see module docstring)
            log.warning("rate limiter unavailable, allowing the request: %s", exc)
            return [1] * len(windows)
        if not refused:
            return [int(c) for c in counts]
        window = windows[int(refused) - 1]
        retry = seconds_until_allowed(
            window.item.amount, window.period_ms, window.elapsed_ms, int(counts[0]), int(counts[1])
        )
        return Verdict(False, window.scope, retry)
