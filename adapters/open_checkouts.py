"""Which checkout is a buyer's open one for an event: a pointer per (user, event) in Redis.

The seed's ``lockSeat`` adds seats to this checkout. ``SET NX`` makes two concurrent first
``lockSeat`` calls of one buyer agree on one checkout; a closed checkout is replaced by a
compare-and-set, so two callers that both find it closed also agree on its successor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

# KEYS[1] pointer; ARGV: candidate id, ttl seconds. Returns the (possibly existing) id.
_GET_OR_OPEN = """
local cur = redis.call('GET', KEYS[1])
if cur then redis.call('EXPIRE', KEYS[1], ARGV[2]) return cur end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""

# KEYS[1] pointer; ARGV: closed id, candidate id, ttl. Replaces only if still the closed one.
_REPLACE = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[3]) return cur end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return ARGV[2]
"""

_FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisOpenCheckouts:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        ttl_seconds: int,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._new_id = new_id

    def _key(self, user_id: str, event_id: str) -> str:
        return f"{self._prefix}open-checkout:{user_id}:{event_id}"

    def current(self, user_id: str, event_id: str) -> str | None:
        value = self._redis.get(self._key(user_id, event_id))
        return _text(value) if value is not None else None

    def get_or_open(self, user_id: str, event_id: str, candidate: str | None = None) -> str:
        """The open checkout's id, or ``candidate`` (default: a new id) now recorded as it."""
        key = self._key(user_id, event_id)
        new = candidate or self._new_id()
        return _text(self._redis.eval(_GET_OR_OPEN, 1, key, new, str(self._ttl)))

    def replace(self, user_id: str, event_id: str, closed_id: str) -> str:
        """Swaps ``closed_id`` for a new id, unless someone already did: returns the open id."""
        key = self._key(user_id, event_id)
        return _text(self._redis.eval(_REPLACE, 1, key, closed_id, self._new_id(), str(self._ttl)))

    def forget(self, user_id: str, event_id: str, checkout_id: str) -> None:
        self._redis.eval(_FORGET, 1, self._key(user_id, event_id), checkout_id)
