"""The seat map cache: staleness bound, invalidation, the version guard, stampede safety."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from adapters.catalog import EventCatalog
from adapters.seatmap_cache import RedisSeatMapEvents, SeatMapCache, seatmap_key
from config.settings import Settings


def _ids(seat_map: Any) -> list[str]:
    return [s.id for s in seat_map.seats]


def _hold(services: Any, event_id: str, seat_id: str) -> None:
    result = services.seat_locks.acquire(event_id, [seat_id], str(uuid.uuid4()), "u", 60)
    assert result.acquired


def test_announced_change_is_visible_on_the_next_read(services: Any, event_factory: Any) -> None:
    event = event_factory(seats=3)
    cache = services.seatmap
    assert cache.get(event.id).source == "rebuilt"
    assert cache.get(event.id).source == "cache"
    _hold(services, event.id, event.seat_ids[0])
    services.seatmap_events.changed(event.id, [event.seat_ids[0]], "held")
    fresh = cache.get(event.id)
    assert fresh.source == "rebuilt" and _ids(fresh) == event.seat_ids[1:]
    assert cache.available_count(event.id) == (2, "cache")


def test_unannounced_change_is_visible_within_the_bound(
    services: Any, event_factory: Any, redis_client: Any, api_settings: Settings
) -> None:
    """A lock nobody announces (e.g. one expiring) shows up once the entry expires, and the
    entry never lives longer than ``seatmap_max_staleness_ms``."""
    event = event_factory(seats=2)
    cache = services.seatmap
    cache.get(event.id)
    ttl_ms = redis_client.pttl(seatmap_key(api_settings.redis_prefix, event.id))
    assert 0 < ttl_ms <= api_settings.seatmap_max_staleness_ms
    _hold(services, event.id, event.seat_ids[0])
    stale = cache.get(event.id)
    assert stale.source == "cache" and event.seat_ids[0] in _ids(stale)  # within the bound
    time.sleep(ttl_ms / 1000 + 0.05)
    assert _ids(cache.get(event.id)) == event.seat_ids[1:]


class _ChangeDuringBuild:
    """SeatLocks wrapper that makes a change (and announces it) in the middle of a build."""

    def __init__(self, services: Any, event_id: str, seat_id: str) -> None:
        self._services, self._event_id, self._seat_id = services, event_id, seat_id
        self.fired = False

    def held_seat_ids(self, event_id: str, now: int | None = None) -> set[str]:
        locks = self._services.seat_locks.held_seat_ids(event_id, now)
        if not self.fired:
            self.fired = True
            _hold(self._services, self._event_id, self._seat_id)
            self._services.seatmap_events.changed(self._event_id, [self._seat_id], "held")
        return locks


def test_a_build_that_raced_a_change_is_not_cached(
    services: Any, event_factory: Any, redis_client: Any, api_settings: Settings, engine: Any
) -> None:
    event = event_factory(seats=2)
    racing = _ChangeDuringBuild(services, event.id, event.seat_ids[0])
    cache = SeatMapCache(
        services.redis, EventCatalog(engine), racing, api_settings.redis_prefix, 60_000
    )
    raced = cache.get(event.id)
    assert racing.fired and event.seat_ids[0] in _ids(raced)  # this reader got the old view
    assert redis_client.get(seatmap_key(api_settings.redis_prefix, event.id)) is None
    assert _ids(cache.get(event.id)) == event.seat_ids[1:]  # the next one does not


class _SlowCatalog(EventCatalog):
    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.builds = 0
        self._lock = threading.Lock()

    def seat_rows(self, event_id: str, seat_ids: Sequence[str] | None = None, **kw: Any) -> Any:
        with self._lock:
            self.builds += 1
        time.sleep(0.3)
        return super().seat_rows(event_id, seat_ids, **kw)


def test_one_rebuild_at_a_time_per_event(
    services: Any, event_factory: Any, api_settings: Settings, engine: Any
) -> None:
    event = event_factory(seats=3)
    catalog = _SlowCatalog(engine)
    cache = SeatMapCache(
        services.redis, catalog, services.seat_locks, api_settings.redis_prefix, 60_000
    )
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(event.id))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert catalog.builds == 1
    assert all(_ids(r) == event.seat_ids for r in results)
    assert sorted(r.source for r in results).count("rebuilt") == 1


def test_changed_never_raises_when_redis_is_gone() -> None:
    import redis

    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    RedisSeatMapEvents(dead, "x:").changed(str(uuid.uuid4()), ["s"], "held")
