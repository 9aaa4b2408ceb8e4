"""Which checkout is a buyer's open one for an event: a pointer per (user, event) in Redis.

The seed's ``lockSeat`` adds seats to this checkout, and ``startCheckout`` opens one only when
the buyer has none (one open checkout per buyer per event, ``api/open_checkout.py``). ``SET
NX`` makes two concurrent first calls of one buyer agree on one checkout; a closed checkout is
replaced by a compare-and-set, so two callers that both find it closed also agree on its
successor.

The pointer's value is ``<checkout id>|<epoch ms it was set>``: a pointer whose checkout does
not exist yet is one that is being started right now when it is young, and a leftover of a
start that never happened when it is old. (A bare id, as older pointers hold, reads as old.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

# KEYS[1] pointer; ARGV: candidate id, ttl seconds, now ms. Returns the (possibly existing)
# pointer's value.
_GET_OR_OPEN = """
local cur = redis.call('GET', KEYS[1])
if cur then redis.call('EXPIRE', KEYS[1], ARGV[2]) return cur end
local value = ARGV[1] .. '|' .. ARGV[3]
redis.call('SET', KEYS[1], value, 'EX', ARGV[2])
return value
"""

# KEYS[1] pointer; ARGV: closed id, candidate id, ttl, now ms. Replaces only if still the
# closed one (or gone); returns the pointer's value.
_REPLACE = """
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^[^|]*') ~= ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return cur
end
local value = ARGV[2] .. '|' .. ARGV[4]
redis.call('SET', KEYS[1], value, 'EX', ARGV[3])
return value
"""

_FORGET = """
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^[^|]*') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Pointer:
    checkout_id: str
    opened_at_ms: int  # 0 when unknown

    @classmethod
    def parse(cls, value: bytes | str) -> Pointer:
        text = value.decode() if isinstance(value, bytes) else value
        checkout_id, _, opened = text.partition("|")
        return cls(checkout_id, int(opened) if opened.isdigit() else 0)

    def age_ms(self, now_ms: int) -> int:
        return now_ms - self.opened_at_ms


def now_ms() -> int:
    return int(time.time() * 1000)


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
        return Pointer.parse(value).checkout_id if value is not None else None

    def get_or_open(self, user_id: str, event_id: str, candidate: str | None = None) -> str:
        """The open checkout's id, or ``candidate`` (default: a new id) now recorded as it."""
        return self.open_pointer(user_id, event_id, candidate).checkout_id

    def open_pointer(self, user_id: str, event_id: str, candidate: str | None = None) -> Pointer:
        """Like ``get_or_open``, with when the pointer was set."""
        key = self._key(user_id, event_id)
        new = candidate or self._new_id()
        value = self._redis.eval(_GET_OR_OPEN, 1, key, new, str(self._ttl), str(now_ms()))
        return Pointer.parse(value)

    def replace(self, user_id: str, event_id: str, closed_id: str) -> str:
        """Swaps ``closed_id`` for a new id, unless someone already did: returns the open id."""
        return self.replace_pointer(user_id, event_id, closed_id).checkout_id

    def replace_pointer(
        self, user_id: str, event_id: str, closed_id: str, candidate: str | None = None
    ) -> Pointer:
        """Swaps ``closed_id`` for ``candidate`` (default: a new id), unless someone already
        replaced it: returns the pointer now set."""
        key = self._key(user_id, event_id)
        new = candidate or self._new_id()
        value = self._redis.eval(_REPLACE, 1, key, closed_id, new, str(self._ttl), str(now_ms()))
        return Pointer.parse(value)

    def forget(self, user_id: str, event_id: str, checkout_id: str) -> None:
        self._redis.eval(_FORGET, 1, self._key(user_id, event_id), checkout_id)
