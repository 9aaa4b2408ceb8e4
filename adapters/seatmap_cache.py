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


# The entries an event's seat-map version guards: the available rows (``availableSeats``) and
# the whole plan with every seat's status (``seatMap``, ``adapters/seat_plan.py``).
AVAILABLE = ""
PLAN = "plan"


def _keys(prefix: str, event_id: str, kind: str = AVAILABLE) -> tuple[str, str, str, str]:
    """(entry, count, version, rebuild lock) keys; every kind shares the event's version."""
    base = seatmap_key(prefix, event_id)
    entry = f"{base}:{kind}" if kind else base
    return entry, f"{entry}:count", f"{base}:version", f"{entry}:rebuild"


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


# What a build gives the cache: the encoded entry and its seat count, or None when there is
# nothing to cache (an unknown event).
Encoded = tuple[str, int]


class VersionedRebuilds:
    """The cache protocol every seat-map entry follows (the module doc): an entry lives at most
    ``max_staleness_ms`` from the version read before its build, is written only if that
    version is still current, and is rebuilt once per event at a time."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        max_staleness_ms: int = 1000,
        wait_ms: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._max_staleness_ms = max_staleness_ms
        self._wait_ms = wait_ms
        self._clock = clock

    def get(
        self, event_id: str, kind: str, build: Callable[[], Encoded | None]
    ) -> tuple[bytes | str | None, str]:
        """(the entry, "cache" or "rebuilt"); raises RedisError when Redis is away."""
        entry_key, _, _, lock_key = _keys(self._prefix, event_id, kind)
        raw = self._redis.get(entry_key)
        if raw is not None:
            return raw, "cache"
        token = uuid.uuid4().hex
        lock_ms = max(self._wait_ms, 1000)
        if self._redis.set(lock_key, token, nx=True, px=lock_ms):
            try:
                return self._rebuild(event_id, kind, build), "rebuilt"
            finally:
                self._redis.eval(_RELEASE_IF_OURS, 1, lock_key, token)
        # Someone else is rebuilding: wait for their result rather than pile onto the database.
        deadline = self._clock() + self._wait_ms / 1000
        while self._clock() < deadline:
            time.sleep(0.01)
            raw = self._redis.get(entry_key)
            if raw is not None:
                return raw, "cache"
            if not self._redis.exists(lock_key):
                # The rebuild may have finished between the two reads: look once more.
                raw = self._redis.get(entry_key)
                if raw is not None:
                    return raw, "cache"
                break
        return self._rebuild(event_id, kind, build), "rebuilt"

    def count(self, event_id: str, kind: str) -> bytes | None:
        return self._redis.get(_keys(self._prefix, event_id, kind)[1])  # type: ignore[return-value]

    def _rebuild(self, event_id: str, kind: str, build: Callable[[], Encoded | None]) -> str | None:
        entry_key, count_key, version_key, _ = _keys(self._prefix, event_id, kind)
        started = self._clock()
        version = self._redis.get(version_key)
        built = build()
        if built is None:
            return None
        raw, count = built
        ttl_ms = self._max_staleness_ms - int((self._clock() - started) * 1000)
        if ttl_ms > 0:
            self._redis.eval(
                _WRITE_IF_CURRENT,
                3,
                entry_key,
                count_key,
                version_key,
                (version or b"").decode() if isinstance(version, bytes) else (version or ""),
                raw,
                str(count),
                str(ttl_ms),
            )
        return raw


class SeatMapCache:
    """The available seats (``availableSeats``): AVAILABLE rows minus the held seats."""

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
        self._catalog = catalog
        self._locks = seat_locks
        self._entries = VersionedRebuilds(client, prefix, max_staleness_ms, wait_ms, clock)

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
            raw = self._entries.count(event_id, AVAILABLE)
        except redis.RedisError:
            raw = None
        if raw is not None:
            return int(raw), "cache"
        seat_map = self.get(event_id)
        return len(seat_map.seats), seat_map.source

    def _get_cached(self, event_id: str) -> SeatMap:
        built: list[tuple[SeatInfo, ...]] = []

        def build() -> Encoded:
            seats = self.build(event_id)
            built.append(seats)  # the rebuilder's own result is not decoded again
            return _encode(seats), len(seats)

        raw, source = self._entries.get(event_id, AVAILABLE, build)
        if built:
            return SeatMap(event_id, built[0], source)
        assert raw is not None  # this build always gives an entry
        return SeatMap(event_id, _decode(raw), source)


class RedisSeatMapEvents:
    """The ``SeatMapEvents`` port: invalidates the cached map and publishes the change.

    Never raises on a Redis outage (the staleness bound covers a lost invalidation).
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None:
        map_key, count_key, version_key, _ = _keys(self._prefix, event_id)
        plan_key, plan_count_key, _, _ = _keys(self._prefix, event_id, PLAN)
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
            pipe.delete(map_key, count_key, plan_key, plan_count_key)
            pipe.publish(seatmap_channel(self._prefix, event_id), json.dumps(message))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("seat map change of %s not announced: %s", event_id, exc)
