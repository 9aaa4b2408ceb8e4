"""Sign-in and registration throttles, counted in Redis with the ``limits`` library.

- Sign-in, per account: ``RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT`` (5 a minute) failed
  attempts on one email, known or not (so the answer says nothing about whether it exists).
  Each attempt is counted *before* its password is checked and a success clears the count:
  counting only failures after the check would let many guesses sent at once all pass the
  check before the first failure was counted.
- Sign-in, per address: ``RATE_LIMIT_LOGIN_PER_IP`` attempts (30 a minute), failed or not:
  each costs a password hash (20 ms of the API's CPU, ``api/auth.py``).
- Registration, per address: ``RATE_LIMIT_REGISTRATIONS_PER_IP`` (20 an hour).

A refusal is ``RATE_LIMITED`` with ``retryAfter`` (seconds) and is answered before the password
is hashed or anything is written. Moving windows (exact: the limit is never exceeded in any
window of its length); these are a few requests per buyer, so a Lua call each is cheap enough
and the request limiter's leases (``api/ratelimit.py``) are not needed. The keys hold a hash of
the email, not the email. A Redis outage fails open, like the request limits.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

import redis.asyncio as aredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from api.errors import RATE_LIMITED
from api.request_limits import Refusal

log = logging.getLogger(__name__)


class AccountThrottle:
    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        login_failures_per_account: str,
        login_per_ip: str,
        registrations_per_ip: str,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        # The API's own connection pool: no second set of connections to Redis.
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{prefix}throttle",
            wrap_exceptions=True,
            connection_pool=client.connection_pool,
        )
        self._windows = MovingWindowRateLimiter(storage)
        self._per_account = parse(login_failures_per_account)
        self._login_per_ip = parse(login_per_ip)
        self._registrations_per_ip = parse(registrations_per_ip)

    async def login(self, email: str, ip: str) -> Refusal | None:
        """Counts a sign-in attempt against the address and the account, or refuses it."""
        refusal = await self._hit(self._login_per_ip, "login-ip", ip, "sign-in attempts")
        if refusal is None:
            refusal = await self._hit(
                self._per_account, "login-account", _account(email), "failed sign-ins"
            )
        return refusal

    async def login_succeeded(self, email: str) -> None:
        """The password was right: the account's failures are forgotten."""
        if not self.enabled:
            return
        try:
            await self._windows.clear(self._per_account, "login-account", _account(email))
        except StorageError as exc:
            log.warning("sign-in throttle unavailable: %s", exc)

    async def registration(self, ip: str) -> Refusal | None:
        return await self._hit(self._registrations_per_ip, "register-ip", ip, "registrations")

    async def _hit(self, item: RateLimitItem, scope: str, who: str, what: str) -> Refusal | None:
        if not self.enabled:
            return None
        try:
            if await self._windows.hit(item, scope, who):
                return None
            reset_at, _ = await self._windows.get_window_stats(item, scope, who)
        except StorageError as exc:  # fail open (module docstring)
            log.warning("sign-in throttle unavailable, allowing the attempt: %s", exc)
            return None
        retry_after = max(1, math.ceil(reset_at - time.time()))
        message = f"too many {what} (at most {item.amount} per {_period(item)}); retry later"
        return Refusal(429, RATE_LIMITED, message, retry_after)


def _account(email: str) -> str:
    """The account's key: its normalized email, hashed (no addresses in Redis keys)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
