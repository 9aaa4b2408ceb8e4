"""The serialized seat-map response: served from Redis, never past a change or the bound."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from starlette.responses import Response

from api.response_cache import Cached, SeatMapResponseCache
from api.services import Services
from config.settings import Settings

SEATS = """query GetAvailableSeats($eventId: ID!) {
  availableSeats(eventId: $eventId) { id section row number type priceModifier }
}"""


async def _seat_ids(http: httpx.AsyncClient, event_id: str) -> list[str]:
    response = await http.post(
        "/graphql", json={"query": SEATS, "variables": {"eventId": event_id}}
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return [seat["id"] for seat in body["data"]["availableSeats"]]


async def _rendered(
    cache: SeatMapResponseCache, event_id: str, data: dict[str, Any], version: bytes, body: bytes
) -> None:
    """Caches ``body`` as this process's render of ``version``, through ``single_flight``."""

    async def render() -> Response:
        return Response(body, media_type="application/json")

    await cache.single_flight(event_id, data, version, render)


def _request(event_id: str) -> dict[str, Any]:
    return {"query": SEATS, "variables": {"eventId": event_id}}


OLD, NEW = b'{"data":{"availableSeats":["old"]}}', b'{"data":{"availableSeats":[]}}'


async def _cached_then_changed(
    services: Services, event_factory: Any
) -> tuple[str, dict[str, Any], SeatMapResponseCache]:
    """An event whose response ``OLD`` is cached, then a hold announced: ``OLD`` is stale."""
    event = event_factory(seats=1)
    data = _request(event.id)
    cache = services.responses
    version = (await cache.lookup(event.id, data)).version
    await _rendered(cache, event.id, data, version, OLD)
    services.seatmap_events.changed(event.id, event.seat_ids, "held")
    return event.id, data, cache


def _cached_responses(services: Services, event_id: str) -> int:
    pattern = f"{services.settings.redis_prefix}seatmap:{event_id}:response:*"
    return len(list(services.redis.scan_iter(match=pattern)))


async def test_second_read_is_the_cached_response_and_identical(
    http: httpx.AsyncClient, services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=4)
    first = await _seat_ids(http, event.id)
    assert _cached_responses(services, event.id) == 1
    assert await _seat_ids(http, event.id) == first == event.seat_ids


async def test_an_announced_hold_is_visible_on_the_next_read(
    http: httpx.AsyncClient, services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    assert await _seat_ids(http, event.id) == event.seat_ids
    seat = event.seat_ids[0]
    assert services.seat_locks.acquire(event.id, [seat], str(uuid.uuid4()), "u", 60).acquired
    services.seatmap_events.changed(event.id, [seat], "held")

    assert await _seat_ids(http, event.id) == event.seat_ids[1:]


async def test_an_unannounced_change_shows_within_the_staleness_bound(
    http: httpx.AsyncClient, services: Services, event_factory: Any, api_settings: Settings
) -> None:
    event = event_factory(seats=2)
    assert await _seat_ids(http, event.id) == event.seat_ids
    seat = event.seat_ids[0]
    assert services.seat_locks.acquire(event.id, [seat], str(uuid.uuid4()), "u", 60).acquired
    time.sleep(api_settings.seatmap_max_staleness_ms / 1000 + 0.1)

    assert await _seat_ids(http, event.id) == event.seat_ids[1:]


async def test_errors_and_other_queries_are_not_cached(
    http: httpx.AsyncClient, services: Services, event_factory: Any
) -> None:
    unknown = str(uuid.uuid4())
    response = await http.post("/graphql", json={"query": SEATS, "variables": {"eventId": unknown}})
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _cached_responses(services, unknown) == 0
    event = event_factory(seats=1)
    mixed = "query($e: ID!) { availableSeats(eventId: $e) { id } me { id } }"
    await http.post("/graphql", json={"query": mixed, "variables": {"e": event.id}})
    assert _cached_responses(services, event.id) == 0


async def test_concurrent_misses_render_once(services: Services, event_factory: Any) -> None:
    event = event_factory(seats=1)
    data = _request(event.id)
    renders = 0

    async def render() -> Response:
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.2)
        return Response(b'{"data":{"availableSeats":[]}}', media_type="application/json")

    cache = services.responses
    version = (await cache.lookup(event.id, data)).version
    responses = await asyncio.gather(
        *(cache.single_flight(event.id, data, version, render) for _ in range(20))
    )

    assert renders == 1
    assert {r.body for r in responses} == {b'{"data":{"availableSeats":[]}}'}
    assert (await cache.lookup(event.id, data)).body == b'{"data":{"availableSeats":[]}}'


async def test_reads_during_a_rerender_get_the_previous_entry_and_later_reads_the_change(
    services: Services, event_factory: Any
) -> None:
    event_id, data, cache = await _cached_then_changed(services, event_factory)
    old, new = OLD, NEW
    renders = 0

    async def render() -> Response:
        nonlocal renders
        renders += 1
        await asyncio.sleep(0.2)
        return Response(new, media_type="application/json")

    async def read() -> bytes:
        cached = await cache.lookup(event_id, data)
        assert cached.body == old and not cached.current  # stale: a change was announced
        response = await cache.single_flight(
            event_id, data, cached.version, render, stale=cached.body
        )
        return bytes(response.body)

    bodies = await asyncio.gather(*(read() for _ in range(10)))

    assert renders == 1
    assert bodies.count(new) == 1 and bodies.count(old) == 9  # only the leader waited
    after = await cache.lookup(event_id, data)
    assert after.body == new and after.current


async def test_a_current_copy_in_this_process_is_served_without_fetching_the_body(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=1)
    data = _request(event.id)
    cache = services.responses
    mine = b'{"data":{"availableSeats":["mine"]}}'
    version = (await cache.lookup(event.id, data)).version
    await _rendered(cache, event.id, data, version, mine)
    # Redis's copy changes behind this process's back (same version): this process keeps
    # answering from its own copy, so it did not fetch the body.
    _, response_key = cache._keys(event.id, data)
    ttl_ms = services.redis.pttl(response_key)
    services.redis.set(response_key, version + b"\n" + b"fetched", px=ttl_ms)

    cached = await cache.lookup(event.id, data)
    assert cached.body == mine and cached.current


async def test_a_current_entry_another_process_rendered_is_adopted_instead_of_rendering(
    services: Services, api_settings: Settings, event_factory: Any
) -> None:
    event = event_factory(seats=1)
    data = _request(event.id)
    here = services.responses
    other = SeatMapResponseCache(
        services.aredis, api_settings.redis_prefix, api_settings.seatmap_max_staleness_ms
    )
    old, new = b'{"data":{"availableSeats":["old"]}}', b'{"data":{"availableSeats":[]}}'
    await _rendered(here, event.id, data, (await here.lookup(event.id, data)).version, old)
    services.seatmap_events.changed(event.id, event.seat_ids, "held")
    version = (await other.lookup(event.id, data)).version
    await _rendered(other, event.id, data, version, new)

    cached = await here.lookup(event.id, data)
    assert cached.body == new and cached.current
    services.redis.delete(here._keys(event.id, data)[1])  # adopted: no longer needs Redis's
    assert (await here.lookup(event.id, data)).body == new


async def test_while_this_process_renders_a_read_gets_its_own_previous_copy_at_once(
    services: Services, event_factory: Any
) -> None:
    event_id, data, cache = await _cached_then_changed(services, event_factory)
    old, new = OLD, NEW
    release = asyncio.Event()

    async def render() -> Response:
        await release.wait()
        return Response(new, media_type="application/json")

    version = (await cache.lookup(event_id, data)).version
    leader = asyncio.create_task(cache.single_flight(event_id, data, version, render, stale=old))
    await asyncio.sleep(0)  # the leader is rendering
    # Redis's entry is replaced behind this process's back: a read that looked at it would
    # return this body instead of the process's own copy.
    _, response_key = cache._keys(event_id, data)
    services.redis.set(response_key, b"0\n" + b"fetched", px=60_000)

    redis_client, cache._redis = cache._redis, None  # type: ignore[assignment]
    try:
        during = await cache.lookup(event_id, data)  # Redis is not asked at all
    finally:
        cache._redis = redis_client
    release.set()
    assert during.body == old and not during.current
    assert bytes((await leader).body) == new


async def test_followers_get_the_render_before_redis_has_its_copy(
    services: Services, event_factory: Any, monkeypatch: Any
) -> None:
    event_id, data, cache = await _cached_then_changed(services, event_factory)
    version = (await cache.lookup(event_id, data)).version
    redis_written = asyncio.Event()
    release_redis = asyncio.Event()
    real_set = cache._redis.set

    async def slow_set(*args: Any, **kwargs: Any) -> Any:
        await release_redis.wait()
        result = await real_set(*args, **kwargs)
        redis_written.set()
        return result

    monkeypatch.setattr(cache._redis, "set", slow_set)

    rendered = asyncio.Event()

    async def render() -> Response:
        await rendered.wait()
        return Response(NEW, media_type="application/json")

    leader = asyncio.create_task(cache.single_flight(event_id, data, version, render))
    await asyncio.sleep(0)  # the leader is rendering
    follower = asyncio.create_task(cache.single_flight(event_id, data, version, render))
    await asyncio.sleep(0)  # the follower waits for the leader's render
    rendered.set()

    assert bytes((await asyncio.wait_for(follower, timeout=5)).body) == NEW
    assert not redis_written.is_set()
    assert await cache.lookup(event_id, data) == Cached(NEW, version, True)  # the copy here
    release_redis.set()
    assert bytes((await leader).body) == NEW and redis_written.is_set()
