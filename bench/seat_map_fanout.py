"""What following one seat map costs the API: ``pages`` websocket pages subscribed to one event's
``seatMapChanges`` (as the event page does at mount), then ``changes`` changes published on the
event's channel at ``per_second``, as a sale publishes them (``sale_changes``). Measured over the
changes and the seconds after them: the API process's CPU (``/proc``), the pushes the pages
received and the seat changes in them (a push may carry several changes of one kind; a page
that falls behind gets a resync instead of its backlog, ``api/seat_map_feeds.py``), and the
Redis pub/sub connections the pages cost (one per event and API process)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp
import redis

from adapters.seatmap_cache import seatmap_channel
from bench.queue_crowd import cpu_seconds
from bench.queue_socket import subscription
from bench.stack import BenchStack, seed_event

CHANGES = "subscription Changes($e: ID!) { seatMapChanges(eventId: $e) { kind seatIds } }"
SETTLE_SECONDS = 3.0  # after the last page subscribed, and after the last change published


def sale_changes(count: int, event_id: str) -> list[dict[str, Any]]:
    """The first ``count`` changes of a sale's checkouts, in the order published: each holds
    one to four seats; nine in ten are then booked (their locks released just after), the
    tenth released; a checkout's outcome comes seven changes after its hold, so the kinds
    interleave as concurrent checkouts' do."""
    timed: list[tuple[int, int, str, list[str]]] = []
    checkout = 0
    while len(timed) < count * 3:
        seats = [f"c{checkout}s{k}" for k in range(1 + checkout % 4)]
        slot = 3 * checkout
        timed.append((slot, 0, "held", seats))
        if checkout % 10 == 9:
            timed.append((slot + 7, 1, "released", seats))
        else:
            timed += [(slot + 7, 1, "booked", seats), (slot + 8, 2, "released", seats)]
        checkout += 1
    return [
        {"eventId": event_id, "kind": kind, "seatIds": seats}
        for _, _, kind, seats in sorted(timed, key=lambda t: t[:2])[:count]
    ]


async def _page(
    session: aiohttp.ClientSession, ws_url: str, token: str, event_id: str, tally: dict[str, int]
) -> None:
    """One page following the map until cancelled, counting what it is sent."""

    def following() -> None:
        tally["following"] += 1

    pushes = subscription(session, ws_url, token, CHANGES, {"e": event_id}, following)
    async with contextlib.aclosing(pushes):
        async for push in pushes:
            tally["pushes"] += 1
            change = ((push or {}).get("data") or {}).get("seatMapChanges") or {}
            tally["seats"] += len(change.get("seatIds") or ())
            tally["resyncs"] += change.get("kind") == "resync"


def _pubsub_connections(client: redis.Redis) -> int:
    listed = client.execute_command("CLIENT", "LIST", "TYPE", "pubsub")
    text = listed.decode() if isinstance(listed, bytes) else str(listed)
    return sum(1 for line in text.splitlines() if line.strip())


async def run(
    bench: BenchStack,
    api_url: str,
    api_pid: int,
    pages: int = 2000,
    changes: int = 300,
    per_second: float = 30.0,
) -> dict[str, Any]:
    tokens = await asyncio.to_thread(bench.buyer_tokens, pages)
    event = await asyncio.to_thread(seed_event, bench.engine, 100, 20, "fanout")
    client = redis.Redis.from_url(bench.stack.redis_url)
    channel = seatmap_channel(bench.redis_prefix, event.event_id)
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    tally = {"following": 0, "pushes": 0, "seats": 0, "resyncs": 0}
    published = sale_changes(changes, event.event_id)
    try:
        before = await asyncio.to_thread(_pubsub_connections, client)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            crowd = [
                asyncio.create_task(_page(session, ws_url, t, event.event_id, tally))
                for t in tokens
            ]
            while tally["following"] < pages and not any(t.done() for t in crowd):
                await asyncio.sleep(0.2)
            await asyncio.sleep(SETTLE_SECONDS)
            connections = await asyncio.to_thread(_pubsub_connections, client) - before
            before_run = dict(tally)
            cpu, began = cpu_seconds(api_pid), time.time()
            for change in published:
                await asyncio.to_thread(client.publish, channel, json.dumps(change))
                await asyncio.sleep(1 / per_second)
            await asyncio.sleep(SETTLE_SECONDS)
            used, elapsed = cpu_seconds(api_pid) - cpu, time.time() - began
            received = tally["pushes"] - before_run["pushes"]
            seats = tally["seats"] - before_run["seats"]
            resyncs = tally["resyncs"] - before_run["resyncs"]
            for task in crowd:
                task.cancel()
            await asyncio.gather(*crowd, return_exceptions=True)
    finally:
        client.close()
    return {
        "pages": pages,
        "following": tally["following"],
        "changes": changes,
        "changes_per_s": per_second,
        "pubsub_connections": connections,
        "pushes_received": received,
        "pushes_wanted": pages * changes,
        # the seat changes the pages were sent, of those published (a resync sends none: the
        # page reads its map again)
        "seat_changes_received": seats,
        "seat_changes_wanted": pages * sum(len(c["seatIds"]) for c in published),
        "resyncs_received": resyncs,
        "window_s": round(elapsed, 1),
        "api_cpu_ms_per_s": round(used / elapsed * 1000, 1),
        "pushes_per_api_cpu_s": round(received / used) if used else None,
        "seat_changes_per_api_cpu_s": round(seats / used) if used else None,
    }
