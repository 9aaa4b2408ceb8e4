"""Issue 6's figures over HTTP: ``lockSeat`` and ``availableSeats`` p50/p99 at concurrency 1, 50.

* ``lockSeat``: every call is a fresh buyer on a fresh seat, so each one opens a checkout and
  holds (update-with-start): the cost of a successful hold through the whole API.
* fast requests, the bulk of an on-sale: 70% cached seat maps of a 1,000-seat event and 30%
  ``startCheckout``s that the seat claims refuse (every seat is claimed by another checkout),
  at concurrency 100; the API's CPU per request is the figure the fast path is tuned by.
* ``availableSeats`` of the demo's 5,100-seat event (seed's full field list): "cached" against the
  run's API (the map is built once, then served from Redis); "uncached" against a second API
  process whose cache entries expire at once (``SEATMAP_MAX_STALENESS_MS=0``), so every call
  rebuilds the map from PostgreSQL and the live locks, as a cache miss does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import text
from temporalio.client import Client

from adapters.checkout_client import CheckoutClient
from adapters.seat_claims import SeatClaimRecorder
from adapters.temporal_converter import DATA_CONVERTER
from bench.buyer import HOLD, SEAT_MAP
from bench.http_lane import Lane
from bench.stack import BenchStack, create_users, seed_event
from bench.stats import cpu_seconds, summary_ms
from devstack.seed import FLASH_SALE_EVENT, demo_id
from domain.errors import DomainError
from workflows.contract import WORKFLOW_ID_PREFIX, WORKFLOW_NAME

LOCK_SEAT = """
mutation LockSeat($seatId: ID!, $eventId: ID!, $userId: ID!) {
  lockSeat(seatId: $seatId, eventId: $eventId, userId: $userId) {
    success lockId expiresAt message
  }
}"""
AVAILABLE_SEATS = """
query GetAvailableSeats($eventId: ID!) {
  availableSeats(eventId: $eventId) { id section row number type priceModifier price }
}"""


async def _measure(
    url: str,
    n: int,
    concurrency: int,
    request: Callable[[int], tuple[dict[str, Any], dict[str, str]]],
    api_pid: int | None = None,
    refusals_expected: bool = False,
) -> dict[str, Any]:
    """``n`` POSTs to /graphql, ``concurrency`` at a time; latency summary and failures, and
    with ``api_pid`` the API process's CPU per request (what capacity planning multiplies)."""
    cpu_before = cpu_seconds(api_pid) if api_pid else 0.0
    latencies: list[float] = []
    failures: dict[str, int] = {}
    next_i = iter(range(n))

    async def lane() -> None:
        async with Lane() as lane:
            for i in next_i:
                body, headers = request(i)
                began = time.perf_counter()
                status, payload, _ = await lane.post_json(f"{url}/graphql", body, headers)
                latencies.append((time.perf_counter() - began) * 1000)
                payload = payload if status == 200 and isinstance(payload, dict) else {}
                data = (payload.get("data") or {}).values()
                ok = status == 200 and not payload.get("errors")
                refused = any(isinstance(v, dict) and v.get("success") is False for v in data)
                if ok and refused and not refusals_expected:
                    ok = False
                if not ok:
                    key = f"HTTP_{status}"
                    failures[key] = failures.get(key, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    figures = {
        "concurrency": concurrency,
        **summary_ms(latencies),
        "per_s": round(n / wall, 1),
        "failures": failures,
    }
    if api_pid:
        figures["api_cpu_ms_per_request"] = round(1000 * (cpu_seconds(api_pid) - cpu_before) / n, 2)
    return figures


async def lock_seat(
    bench: BenchStack, url: str, n: int, concurrency: int, api_pid: int | None = None
) -> dict[str, Any]:
    event = await asyncio.to_thread(seed_event, bench.engine, n, 20, "api-locks")
    users = await asyncio.to_thread(create_users, bench.engine, n)
    tokens = bench.tokens()
    headers = [{"Authorization": f"Bearer {tokens.issue(u, e)}"} for u, e in users]

    def request(i: int) -> tuple[dict[str, Any], dict[str, str]]:
        variables = {"seatId": event.seat_ids[i], "eventId": event.event_id, "userId": users[i][0]}
        return {"query": LOCK_SEAT, "variables": variables}, headers[i]

    return await _measure(url, n, concurrency, request, api_pid)


async def fast_requests(
    bench: BenchStack, url: str, n: int, concurrency: int, api_pid: int | None = None
) -> dict[str, Any]:
    event = await asyncio.to_thread(seed_event, bench.engine, 1000, 20, "api-fast")
    users = await asyncio.to_thread(create_users, bench.engine, 200)
    tokens = bench.tokens()
    headers = [{"Authorization": f"Bearer {tokens.issue(u, e)}"} for u, e in users]
    with redis.Redis.from_url(bench.stack.redis_url) as client:
        claims = SeatClaimRecorder(client, bench.redis_prefix)
        claims.record(event.event_id, event.seat_ids, "another-checkout", int(time.time()) + 3600)
    seat_map = {"query": SEAT_MAP, "variables": {"eventId": event.event_id}}

    def request(i: int) -> tuple[dict[str, Any], dict[str, str]]:
        if i % 10 < 7:
            return seat_map, headers[i % len(headers)]
        first = (i * 4) % (len(event.seat_ids) - 1)
        variables = {"eventId": event.event_id, "seatIds": event.seat_ids[first : first + 2]}
        return {"query": HOLD, "variables": variables}, headers[i % len(headers)]

    await _measure(url, n // 10, concurrency, request, refusals_expected=True)  # warm, unmeasured
    return await _measure(url, n, concurrency, request, api_pid, refusals_expected=True)


async def available_seats(
    url: str, n: int, concurrency: int, api_pid: int | None = None
) -> dict[str, Any]:
    body = {
        "query": AVAILABLE_SEATS,
        "variables": {"eventId": str(demo_id("event", FLASH_SALE_EVENT))},
    }
    return await _measure(url, n, concurrency, lambda _: (body, {}), api_pid)


async def cancel_open_checkouts(bench: BenchStack) -> int:
    """Cancels the checkouts this section left holding seats (``lockSeat`` holds them for
    the run's hold length, and nobody pays), while its worker still runs.

    Left alone, they expire after the section's worker has stopped, and the next section's
    worker finds their expiries and compensations waiting in its task queue: in a full
    ``make bench``, the flash sale began with ~200 of them.
    """
    client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
    checkouts = CheckoutClient(client, bench.task_queue)
    query = (
        f"WorkflowType = '{WORKFLOW_NAME}' AND TaskQueue = '{bench.task_queue}' "
        "AND ExecutionStatus = 'Running'"
    )
    running = [e.id.removeprefix(WORKFLOW_ID_PREFIX) async for e in client.list_workflows(query)]
    semaphore = asyncio.Semaphore(20)

    async def cancel(checkout_id: str) -> None:
        async with semaphore:
            with contextlib.suppress(DomainError):  # it ended meanwhile
                await checkouts.cancel(checkout_id, "benchmark section over")

    await asyncio.gather(*(cancel(c) for c in running))
    return len(running)


async def run(
    bench: BenchStack, api_url: str, quick: bool, api_pid: int | None = None
) -> dict[str, Any]:
    scale = 1 if quick else 2
    result: dict[str, Any] = {
        "lock_seat": {
            "conc1": await lock_seat(bench, api_url, 20 * scale, 1, api_pid),
            "conc50": await lock_seat(bench, api_url, 100 * scale, 50, api_pid),
        }
    }
    result["fast_requests"] = await fast_requests(bench, api_url, 3000 * scale, 100, api_pid)
    await available_seats(api_url, 5, 1)  # builds the cached entry
    cached = {
        "conc1": await available_seats(api_url, 30 * scale, 1, api_pid),
        "conc50": await available_seats(api_url, 150 * scale, 50, api_pid),
    }
    proc, uncached_url = await asyncio.to_thread(bench.start_api, SEATMAP_MAX_STALENESS_MS="0")
    try:
        await available_seats(uncached_url, 3, 1)  # warm its pools, unmeasured
        uncached = {
            "conc1": await available_seats(uncached_url, 10 * scale, 1),
            "conc50": await available_seats(uncached_url, 50 * scale, 50),
        }
    finally:
        await asyncio.to_thread(bench.stop_app, proc)
    with bench.engine.connect() as conn:
        n_seats = conn.execute(
            text("SELECT count(*) FROM event_seats WHERE event_id = :e"),
            {"e": str(demo_id("event", FLASH_SALE_EVENT))},
        ).scalar_one()
    result["available_seats"] = {"event_seats": n_seats, "cached": cached, "uncached": uncached}
    return result
