"""Request rate limits per user and per client IP, counted in Redis (shared by all replicas).

A Redis outage fails open: availability of the sale matters more than the limit, and the
outage itself is visible in ``/health/cache``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    scope: str = ""  # "user" or "ip" when refused
    retry_after: int = 0


def _redis_uri(url: str) -> str:
    # limits' asyncio storage is selected by the "async+" scheme prefix.
    return url if url.startswith("async+") else f"async+{url}"


class RateLimiter:
    def __init__(
        self, redis_url: str, prefix: str, per_user: str, per_ip: str, enabled: bool = True
    ) -> None:
        self.enabled = enabled
        self._user_limit: RateLimitItem = parse(per_user)
        self._ip_limit: RateLimitItem = parse(per_ip)
        self._storage = RedisStorage(
            _redis_uri(redis_url),
            implementation="redispy",
            key_prefix=f"{prefix}ratelimit",
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
        )
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    async def check(self, ip: str, user_id: str | None) -> Verdict:
        if not self.enabled:
            return Verdict(True)
        try:
            # Both windows in one round trip's time: every request pays this, and under load
            # each await is another wait for the event loop. A request the address limit
            # refuses is then also counted against its user, as it was sent by that user.
            hits = [self._strategy.hit(self._ip_limit, "ip", ip)]
            if user_id:
                hits.append(self._strategy.hit(self._user_limit, "user", user_id))
            ip_allowed, *user_allowed = await asyncio.gather(*hits)
            if not ip_allowed:
                return Verdict(False, "ip", await self._retry_after(self._ip_limit, "ip", ip))
            if user_allowed and not user_allowed[0]:
                retry = await self._retry_after(self._user_limit, "user", user_id or "")
                return Verdict(False, "user", retry)
        except Exception as exc:  # storage outage: fail open (see module docstring)
            log.warning("rate limiter unavailable, allowing the request: %s", exc)
        return Verdict(True)

    async def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = await self._strategy.get_window_stats(item, *keys)
        return max(1, int(stats.reset_time - time.time()))
