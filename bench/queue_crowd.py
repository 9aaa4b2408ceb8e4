"""What a waiting crowd costs the API: polled, and on the page's subscription.

The same number of buyers wait in a sale's room twice, each time in a room of its own on the
same API process: first each asks ``queueStatus`` again after the ``pollAfterMs`` the room
suggests (the bench's fair sale, and the page when its websocket fails), then each keeps one
``queueUpdates`` subscription open (the page's normal path: ``api/web/views/queue.js``). Nobody
holds, so the room admits up to what its seats can serve and gives the turns of those who let
theirs lapse to the next. For each way: the API process's CPU over a window of the sale (from
``/proc``), the statuses the buyers received a second, and how many buyers were still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench.buyer import Call
from bench.fair_sale import JOIN, STATUS, Pool, open_sale, prepare_event
from bench.queue_socket import SocketEnded, queue_updates
from bench.stack import BenchStack, seed_event

UPDATE_FIELDS = "state position etaSeconds pollAfterMs"
FINAL_STATES = frozenset({"TURN_EXPIRED", "SOLD_OUT", "CLOSED"})
OPENS_AFTER_SECONDS = 15.0  # time for the crowd to join the pre-queue before the opening


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU so far, in seconds (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Tally:
    """Statuses the crowd received, and the buyers still waiting."""

    def __init__(self) -> None:
        self.statuses = 0
        self.waiting = 0
        self.ended: Counter[str] = Counter()  # why buyers stopped: the final state, or the socket


async def _poller(pool: Pool, event_id: str, token: str, tally: Tally, until: float) -> None:
    tally.waiting += 1
    try:
        while time.time() < until:
            reply = await pool.call(Call("status", STATUS, {"eventId": event_id}, token))
            status = ((reply.body or {}).get("data") or {}).get("queueStatus") or {}
            tally.statuses += 1
            if status.get("state") in FINAL_STATES:
                tally.ended[status["state"]] += 1
                return
            await asyncio.sleep(min(status.get("pollAfterMs", 2000) / 1000, until - time.time()))
    finally:
        tally.waiting -= 1


async def _subscriber(
    session: aiohttp.ClientSession,
    ws_url: str,
    event_id: str,
    token: str,
    tally: Tally,
    until: float,
) -> None:
    updates = queue_updates(session, ws_url, event_id, token, UPDATE_FIELDS)
    tally.waiting += 1
    try:
        async with contextlib.aclosing(updates), asyncio.timeout_at(_loop_time(until)):
            async for status in updates:
                if status is None:
                    tally.ended["an update with errors"] += 1
                    continue
                tally.statuses += 1
                if status["state"] in FINAL_STATES:
                    tally.ended[status["state"]] += 1
                    return
            tally.ended["completed by the server"] += 1
    except TimeoutError:
        pass  # the window ended with the buyer still waiting
    except SocketEnded as ended:
        tally.ended[str(ended)] += 1
    finally:
        tally.waiting -= 1


def _loop_time(epoch: float) -> float:
    """The event loop's clock at the wall-clock moment ``epoch``."""
    return asyncio.get_running_loop().time() + (epoch - time.time())


async def _room(bench: BenchStack, pool: Pool, tokens: list[str], seats: int) -> str:
    """An event whose room opens, at its ``onSaleAt``, with every buyer in its pre-queue."""
    event = await asyncio.to_thread(seed_event, bench.engine, seats, 20, "crowd")
    opens = time.time() + OPENS_AFTER_SECONDS
    await asyncio.to_thread(
        prepare_event, bench.engine, event.event_id, datetime.fromtimestamp(opens, UTC), 4
    )
    await asyncio.gather(
        *(pool.call(Call("join", JOIN, {"eventId": event.event_id}, t)) for t in tokens)
    )
    await asyncio.sleep(max(0.0, opens - time.time()))
    await asyncio.to_thread(open_sale, bench.engine, event.event_id)
    return event.event_id


async def run(
    bench: BenchStack,
    api_url: str,
    api_pid: int,
    buyers: int = 2000,
    seats: int = 1000,
    settle_seconds: float = 10.0,
    window_seconds: float = 30.0,
) -> dict[str, Any]:
    """Each way in turn: the crowd joins a new room, the sale opens, the API's CPU is read
    over ``window_seconds`` after ``settle_seconds`` (the first statuses after the opening)."""
    tokens = await asyncio.to_thread(bench.buyer_tokens, buyers)
    ws_url = api_url.replace("http://", "ws://") + "/graphql"
    out: dict[str, Any] = {"buyers": buyers, "seats": seats, "window_seconds": window_seconds}
    async with (
        Pool([api_url], 200) as pool,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        for way in ("polled", "subscribed"):
            event_id = await _room(bench, pool, tokens, seats)
            tally = Tally()
            until = time.time() + settle_seconds + window_seconds
            if way == "polled":
                crowd = [_poller(pool, event_id, t, tally, until) for t in tokens]
            else:
                crowd = [_subscriber(session, ws_url, event_id, t, tally, until) for t in tokens]
            tasks = [asyncio.create_task(c) for c in crowd]
            await asyncio.sleep(settle_seconds)
            cpu, statuses, began = cpu_seconds(api_pid), tally.statuses, time.time()
            await asyncio.sleep(window_seconds / 2)
            waiting = tally.waiting  # mid-window: at its end the crowd is leaving
            await asyncio.sleep(window_seconds / 2)
            used, elapsed = cpu_seconds(api_pid) - cpu, time.time() - began
            received = tally.statuses - statuses
            for failed in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(failed, BaseException):
                    tally.ended[f"error {type(failed).__name__}"] += 1
            out[way] = {
                "api_cpu_ms_per_s": round(used / elapsed * 1000, 1),
                "statuses_per_s": round(received / elapsed, 1),
                "waiting_mid_window": waiting,
                "ended": dict(tally.ended),
                # what one waiting buyer costs the API: ms of CPU a second per 1,000 buyers
                "api_cpu_ms_per_s_per_1000_waiting": (
                    round(used / elapsed * 1000 / waiting * 1000, 1) if waiting else None
                ),
            }
    return out
