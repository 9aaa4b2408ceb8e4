"""The seat map of an event, cached in Redis, and the ``SeatMapEvents`` port that invalidates it.

The seat map is *derived*: the event's AVAILABLE inventory rows in PostgreSQL minus the seats
under a live DynamoDB lock. Nothing counts seats down; the cache only saves recomputing it.

Staleness bound (invariant 5): a seat map served from the cache reflects PostgreSQL + live
locks as of at most ``max_staleness_ms`` ago (``settings.seatmap_max_staleness_ms``):

* a cached entry is written with a PX expiry of ``max_staleness_ms`` minus the time its build
  took (measured from before the build's first read), so no entry outlives the bound even when
  a change is never announced (a lock expiring silently, a lost invalidation);
* every announced change (``RedisSeatMapEvents.changed``: hold, release, booking, cancellation)
  bumps the event's version and deletes the entry; a rebuild writes its result only if the
  version is still the one it read before building, so a build that raced a change is never
  cached. Announced changes are therefore visible on the next read.

With Redis unreachable, reads fall back to PostgreSQL + locks on every call (``source ==
"database"``), which is always fresh. Rebuilds are stampede-safe: one rebuild per event at a
time (a Redis ``SET NX`` lock); other readers wait for its result for a short while. A reader
that finds neither the result nor the lock (the leader's build raced a change, so it was not
cached) or is still waiting after ``wait_ms`` builds the map itself.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis

from adapters.catalog import EventCatalog, SeatInfo
from domain.model import SeatStatus
from domain.ports import SeatLocks

log = logging.getLogger(__name__)

# Writes the entry only if no change was announced since the build started (KEYS: map, count,
# version; ARGV: version read before the build ("" if none), map, count, ttl ms).
_WRITE_IF_CURRENT = """
local v = redis.call('GET', KEYS[3]) or ''
if v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
"""

_RELEASE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def seatmap_key(prefix: str, event_id: str) -> str:
    return f"{prefix}seatmap:{event_id}"


def seatmap_channel(prefix: str, event_id: str) -> str:
    """Pub/sub channel of one event's seat-map changes (JSON: eventId, kind, seatIds, at)."""
    return f"{prefix}seatmap-changes:{event_id}"


def _keys(prefix: str, event_id: str) -> tuple[str, str, str, str]:
    base = seatmap_key(prefix, event_id)
    return base, f"{base}:count", f"{base}:version", f"{base}:rebuild"


@dataclass(frozen=True)
class SeatMap:
    event_id: str
    seats: tuple[SeatInfo, ...]  # available seats only, in seat-map order
    source: str  # "cache", "rebuilt" or "database" (Redis unreachable)


def _encode(seats: Sequence[SeatInfo]) -> str:
    return json.dumps(
        [
            [s.id, s.section, s.row, s.number, s.type, str(s.price_modifier), str(s.price)]
            for s in seats
        ],
        separators=(",", ":"),
    )


def _decode(raw: bytes | str) -> tuple[SeatInfo, ...]:
    return tuple(
        SeatInfo(
            id=i,
            section=sec,
            row=row,
            number=num,
            type=typ,
            price_modifier=Decimal(mod),
            price=Decimal(price),
            status=SeatStatus.AVAILABLE.value,
        )
        for i, sec, row, num, typ, mod, price in json.loads(raw)
    )


class SeatMapCache:
    def __init__(
        self,
        client: redis.Redis,
        catalog: EventCatalog,
        seat_locks: SeatLocks,
        prefix: str,
        max_staleness_ms: int = 1000,
        wait_ms: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._catalog = catalog
        self._locks = seat_locks
        self._prefix = prefix
        self._max_staleness_ms = max_staleness_ms
        self._wait_ms = wait_ms
        self._clock = clock

    def build(self, event_id: str) -> tuple[SeatInfo, ...]:
        """Straight from the sources: AVAILABLE rows minus seats under a live lock."""
        rows = self._catalog.seat_rows(event_id, available_only=True)
        locked = self._locks.held_seat_ids(event_id)
        return tuple(row for row in rows if row.id not in locked)

    def get(self, event_id: str) -> SeatMap:
        try:
            return self._get_cached(event_id)
        except redis.RedisError as exc:
            log.warning("seat map cache unavailable, reading the database: %s", exc)
            return SeatMap(event_id, self.build(event_id), "database")

    def available_count(self, event_id: str) -> tuple[int, str]:
        """(number of available seats, source) without decoding the whole map when cached."""
        try:
            raw = self._redis.get(_keys(self._prefix, event_id)[1])
        except redis.RedisError:
            raw = None
        if raw is not None:
            return int(raw), "cache"
        seat_map = self.get(event_id)
        return len(seat_map.seats), seat_map.source

    def _get_cached(self, event_id: str) -> SeatMap:
        map_key, count_key, version_key, lock_key = _keys(self._prefix, event_id)
        raw = self._redis.get(map_key)
        if raw is not None:
            return SeatMap(event_id, _decode(raw), "cache")
        token = uuid.uuid4().hex
        lock_ms = max(self._wait_ms, 1000)
        if self._redis.set(lock_key, token, nx=True, px=lock_ms):
            try:
                return SeatMap(event_id, self._rebuild(event_id), "rebuilt")
            finally:
                self._redis.eval(_RELEASE_IF_OURS, 1, lock_key, token)
        # Someone else is rebuilding: wait for their result rather than pile onto the database.
        deadline = self._clock() + self._wait_ms / 1000
        while self._clock() < deadline:
            time.sleep(0.01)
            raw = self._redis.get(map_key)
            if raw is not None:
                return SeatMap(event_id, _decode(raw), "cache")
            if not self._redis.exists(lock_key):
                # The rebuild may have finished between the two reads: look once more.
                raw = self._redis.get(map_key)
                if raw is not None:
                    return SeatMap(event_id, _decode(raw), "cache")
                break
        return SeatMap(event_id, self._rebuild(event_id), "rebuilt")

    def _rebuild(self, event_id: str) -> tuple[SeatInfo, ...]:
        map_key, count_key, version_key, _ = _keys(self._prefix, event_id)
        started = self._clock()
        version = self._redis.get(version_key)
        seats = self.build(event_id)
        ttl_ms = self._max_staleness_ms - int((self._clock() - started) * 1000)
        if ttl_ms > 0:
            self._redis.eval(
                _WRITE_IF_CURRENT,
                3,
                map_key,
                count_key,
                version_key,
                (version or b"").decode() if isinstance(version, bytes) else (version or ""),
                _encode(seats),
                str(len(seats)),
                str(ttl_ms),
            )
        return seats


class RedisSeatMapEvents:
    """The ``SeatMapEvents`` port: invalidates the cached map and publishes the change.

    Never raises on a Redis outage (the staleness bound covers a lost invalidation).
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None:
        map_key, count_key, version_key, _ = _keys(self._prefix, event_id)
        message: dict[str, Any] = {
            "eventId": event_id,
            "kind": kind,
            "seatIds": sorted(seat_ids),
            "at": int(time.time() * 1000),
        }
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(version_key)
            pipe.expire(version_key, 86400)
            pipe.delete(map_key, count_key)
            pipe.publish(seatmap_channel(self._prefix, event_id), json.dumps(message))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("seat map change of %s not announced: %s", event_id, exc)
