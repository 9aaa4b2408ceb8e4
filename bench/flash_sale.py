"""Issue 7's flash sale: N buyers for M seats of one ON_SALE event, K concurrent HTTP clients.

Buyers follow ``bench.buyer`` (the locust file runs the same behaviour). After the last buyer
is done, the sale waits until every checkout of the event is terminal (abandoned holds expire on
the saga's timer), then runs the invariant checker and counts what was sold.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections import Counter
from collections.abc import Generator, Sequence
from typing import Any

import redis
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from adapters.temporal_converter import DATA_CONVERTER
from bench import api_metrics, temporal_metrics, temporal_server_metrics
from bench.buyer import BuyerPlan, Call, Outcome, Reply, buy, plan_buyers
from bench.gc_pauses import GcPauses
from bench.http_lane import Lane
from bench.loop_lag import LoopLag
from bench.stack import (
    BenchStack,
    check_invariants,
    create_users,
    seats_sold,
    seed_event,
    unsold_seat_ids,
)
from bench.stats import (
    cpu_ms_each,
    cpu_snapshot,
    cpu_used,
    per_second,
    run_queue_waits,
    sched_snapshot,
    summary_ms,
)
from workflows.contract import workflow_id


async def drive(lane: Lane, url: str, steps: Generator[Call, Reply, Outcome]) -> Outcome:
    """Runs one buyer's generator against ``url``/graphql, timing every call."""
    call = next(steps)
    while True:
        began = time.perf_counter()
        status, body, server_ms = await lane.post_json(
            f"{url}/graphql", call.body(), call.headers()
        )
        reply = Reply(status, body, (time.perf_counter() - began) * 1000, server_ms)
        try:
            call = steps.send(reply)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            outcome.finished_at = time.time()
            return outcome


async def run_buyers(
    api_urls: Sequence[str],
    event_id: str,
    plans: Sequence[BuyerPlan],
    tokens: Sequence[str | None],
    clients: int,
    seed: int,
) -> tuple[list[Outcome], float]:
    """Every plan run by ``clients`` concurrent lanes, spread over the API processes."""
    outcomes: list[Outcome] = []
    work = iter(zip(plans, tokens, strict=True))
    urls = itertools.cycle(api_urls)

    async def lane(n: int) -> None:
        rng = random.Random(seed * 100_003 + n)
        async with Lane() as lane:
            for plan, token in work:
                outcomes.append(await drive(lane, next(urls), buy(plan, event_id, token, rng)))

    began = time.perf_counter()
    await asyncio.gather(*(lane(n) for n in range(clients)))
    return outcomes, time.perf_counter() - began


def sale_timeline(
    outcomes: Sequence[Outcome], began: float, sale_seconds: float, checkouts: int
) -> dict[str, float | None]:
    """When, in seconds from the sale's start (wall clock ``began``), the buyers who bought
    left, and what came after: ``checkouts_per_s`` counts the whole sale, including its tail
    in which the remaining buyers only find the seats gone. Reported beside it, not instead."""
    bought = sorted(o.finished_at - began for o in outcomes if o.result == "confirmed")
    if not bought:
        return {"last_confirmed_s": None, "after_last_confirmed_s": None}
    last = bought[-1]
    return {
        "half_confirmed_s": round(bought[len(bought) // 2], 1),
        "last_confirmed_s": round(last, 1),
        "after_last_confirmed_s": round(sale_seconds - last, 1),
        "checkouts_per_s_until_last_confirmed": per_second(checkouts, last),
    }


def lapsed_after(outcomes: Sequence[Outcome], moment: float, hold_seconds: int) -> set[str]:
    """Seats of abandoned holds that could still be live at ``moment``: a hold lapses
    ``hold_seconds`` after its hold step, which came a little before its buyer walked away."""
    return {
        seat
        for o in outcomes
        if o.result == "abandoned" and o.finished_at + hold_seconds > moment
        for seat in o.abandoned_seats
    }


async def wait_terminal(client: Client, event_id: str, timeout: float) -> tuple[int, float]:
    """Waits until no checkout of the event runs; (still running at the end, seconds waited)."""
    began = time.perf_counter()
    query = f'EventId = "{event_id}" AND ExecutionStatus = "Running"'
    running = -1
    while time.perf_counter() - began < timeout:
        running = (await client.count_workflows(query)).count
        if running == 0:
            break
        await asyncio.sleep(1.0)
    return running, round(time.perf_counter() - began, 1)


def pg_transactions(engine: Any) -> int:
    """Commits + rollbacks of the run's own database (statistics lag by up to a second)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                    "WHERE datname = current_database()"
                )
            ).scalar_one()
        )


def redis_calls(url: str) -> int:
    """Commands the Redis server has run so far (shared: other users' calls count too)."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(v["calls"]) for v in stats.values())


async def history_costs(client: Client, checkout_id: str) -> dict[str, int]:
    """What one checkout costs Temporal, counted from its real history."""
    history = await client.get_workflow_handle(workflow_id(checkout_id)).fetch_history()
    kinds = Counter(
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events
    )
    markers = Counter(
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    )
    costs = {
        "history_events": len(history.events),
        "workflow_tasks": kinds["WORKFLOW_TASK_COMPLETED"],
        "activities": kinds["ACTIVITY_TASK_SCHEDULED"],
        "local_activities": markers["core_local_activity"],
        "timers": kinds["TIMER_STARTED"],
        "updates": kinds["WORKFLOW_EXECUTION_UPDATE_ACCEPTED"],
        "search_attribute_upserts": kinds["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
    }
    # Billable actions as Temporal Cloud counts them: start, each activity (a local one counts
    # once per marker), timer, update and search-attribute upsert (the one a patch makes
    # included). The patch markers themselves are counted apart, not as actions.
    costs["actions"] = 1 + sum(
        v for k, v in costs.items() if k not in ("history_events", "workflow_tasks")
    )
    costs["patch_markers"] = markers["core_patch"]
    return costs


async def workflow_task_trouble(client: Client, checkout_ids: Sequence[str]) -> dict[str, int]:
    """Workflow tasks that timed out or failed, over every checkout of the sale.

    A timed-out task's work is thrown away and done again, and while a workflow's task is in
    that state its updates are refused ("Workflow Task in failed state"). Only the first failed
    attempt of a run of them is in the history (later ones are transient), so this counts
    episodes, not attempts. Timeouts are split by kind: start-to-close (recorded as started
    but not completed in time: a task the server lost on its way to the worker, or one that
    ran too long) and schedule-to-start (a task that waited on a worker's sticky queue until
    the server moved it to the shared one); and by task: a checkout's first (its hold) or a
    later one.
    """
    semaphore = asyncio.Semaphore(20)

    async def count(checkout_id: str) -> Counter[str]:
        async with semaphore:
            history = await client.get_workflow_handle(workflow_id(checkout_id)).fetch_history()
        kinds: Counter[str] = Counter()
        for e in history.events:
            kinds[EventType.Name(e.event_type)] += 1
            if e.HasField("workflow_task_timed_out_event_attributes"):
                timed_out = e.workflow_task_timed_out_event_attributes
                kinds[
                    TimeoutType.Name(timed_out.timeout_type).removeprefix("TIMEOUT_TYPE_").lower()
                ] += 1
                # event 2 is a run's first WorkflowTaskScheduled
                kinds["first_task" if timed_out.scheduled_event_id == 2 else "later_task"] += 1
        return kinds

    totals: Counter[str] = Counter()
    for counted in await asyncio.gather(*(count(c) for c in checkout_ids)):
        totals += counted
    return {
        "timed_out": totals["EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"],
        "timed_out_start_to_close": totals["start_to_close"],
        "timed_out_schedule_to_start": totals["schedule_to_start"],
        "timed_out_first_task": totals["first_task"],  # the hold's own task
        "timed_out_later_task": totals["later_task"],  # a payment's, an expiry's, ...
        "failed": totals["EVENT_TYPE_WORKFLOW_TASK_FAILED"],
        "checkouts": len(checkout_ids),
    }


def _merge(outcomes: Sequence[Outcome]) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {"hold": [], "refusal": [], "pay": [], "seat_map": []}
    for o in outcomes:
        merged["hold"] += o.hold_ms
        merged["refusal"] += o.refusal_ms
        merged["pay"] += o.pay_ms
        merged["seat_map"] += o.seat_map_ms
    return merged


def clients_waiting_on(lat: dict[str, list[float]], sale_seconds: float) -> dict[str, float]:
    """How many of the sale's clients were, on average, waiting on each kind of call: the
    time spent in them over the sale's length (Little's law). The clients are a closed loop,
    so the time one kind takes sets how many are left to wait on the others."""
    return {kind: round(sum(ms) / 1000 / sale_seconds, 1) for kind, ms in lat.items()}


async def run(
    bench: BenchStack,
    api_urls: Sequence[str],
    buyers: int,
    seats: int,
    clients: int,
    hold_seconds: int,
    seed: int = 7,
    abandon_share: float = 0.1,
    decline_share: float = 0.1,
    register_share: float = 0.01,
) -> dict[str, Any]:
    client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
    event = await asyncio.to_thread(seed_event, bench.engine, seats, 20, f"flash-{seed}")
    plans = plan_buyers(buyers, seed, abandon_share, decline_share, register_share)
    users = await asyncio.to_thread(create_users, bench.engine, buyers)
    minted = bench.tokens()
    tokens = [
        None if plan.registers else minted.issue(user_id, email)
        for plan, (user_id, email) in zip(plans, users, strict=True)
    ]
    temporal_before = await asyncio.to_thread(temporal_metrics.scrape, bench.worker_metrics_url)
    server_url = bench.stack.temporal_metrics_url
    server_before = await asyncio.to_thread(temporal_server_metrics.scrape, server_url)
    api_before = await asyncio.gather(*(asyncio.to_thread(api_metrics.scrape, u) for u in api_urls))
    owned = {**bench.pids(), "bench (this process)": os.getpid()}
    before = cpu_snapshot(bench.pids())
    sched_before = sched_snapshot(owned)
    pg_before = await asyncio.to_thread(pg_transactions, bench.engine)
    redis_before = await asyncio.to_thread(redis_calls, bench.stack.redis_url)
    began = time.time()
    with GcPauses() as load_generator_gc:
        async with LoopLag() as load_generator_lag:
            outcomes, sale_seconds = await run_buyers(
                api_urls, event.event_id, plans, tokens, clients, seed
            )
    last_buyer_left = time.time()
    after = cpu_snapshot(bench.pids())
    cpu = cpu_used(before, after, sale_seconds)
    waits = run_queue_waits(sched_before, sched_snapshot(owned), sale_seconds)
    temporal_after = await asyncio.to_thread(temporal_metrics.scrape, bench.worker_metrics_url)
    server_after = await asyncio.to_thread(temporal_server_metrics.scrape, server_url)
    api_after = await asyncio.gather(*(asyncio.to_thread(api_metrics.scrape, u) for u in api_urls))
    pg_after = await asyncio.to_thread(pg_transactions, bench.engine)
    redis_after = await asyncio.to_thread(redis_calls, bench.stack.redis_url)
    still_running, waited = await wait_terminal(client, event.event_id, hold_seconds * 2 + 120)
    await asyncio.sleep(2)  # past the seat-map cache's staleness bound (1 s by default)
    violations = await check_invariants(bench, client, [event.event_id], with_seat_map=True)
    sold = await asyncio.to_thread(seats_sold, bench.engine, event.event_id)
    unsold = await asyncio.to_thread(unsold_seat_ids, bench.engine, event.event_id)

    results = Counter(o.result for o in outcomes)
    confirmed_seats = [s for o in outcomes if o.result == "confirmed" for s in o.seats]
    checkouts = sum(len(o.checkout_ids) for o in outcomes)
    failures = Counter(f for o in outcomes for f in o.other_failures)
    lat = _merge(outcomes)
    kinds = Counter(v.kind for v in violations)
    histories = {}
    for result_kind in ("confirmed", "declined", "abandoned"):
        sample = next((o for o in outcomes if o.result == result_kind and o.checkout_ids), None)
        if sample is not None:
            histories[result_kind] = await history_costs(client, sample.checkout_ids[-1])
    task_trouble = await workflow_task_trouble(
        client, [c for o in outcomes for c in o.checkout_ids]
    )
    per = max(checkouts, 1)
    server = temporal_server_metrics.summarize(server_before, server_after)
    hold, refusal, pay = summary_ms(lat["hold"]), summary_ms(lat["refusal"]), summary_ms(lat["pay"])
    refusal_inside_api = summary_ms([ms for o in outcomes for ms in o.refusal_inside_api_ms])
    return {
        "event_id": event.event_id,
        "buyers": buyers,
        "seats": seats,
        "clients": clients,
        "api_processes": len(api_urls),
        "hold_seconds": hold_seconds,
        "sale_seconds": round(sale_seconds, 1),
        "checkouts": checkouts,
        "checkouts_per_s": per_second(checkouts, sale_seconds),
        "confirmed": results["confirmed"],
        "confirmed_per_s": per_second(results["confirmed"], sale_seconds),
        "timeline": sale_timeline(outcomes, began, sale_seconds, checkouts),
        "outcomes": dict(results),
        "other_failures": dict(failures.most_common(10)),
        "seats_sold": sold,
        "all_seats_sold": sold == seats,
        "unsold_seats": len(unsold),
        # of those, seats of abandoned holds that lapsed after the last buyer had left
        "unsold_lapsed_after_last_buyer": len(
            unsold & lapsed_after(outcomes, last_buyer_left, hold_seconds)
        ),
        # seats two buyers were both told they bought (must be 0, like the database's view)
        "double_sold": kinds["double_booked"]
        + sum(n - 1 for n in Counter(confirmed_seats).values() if n > 1),
        "buyers_confirmed_seats_match_db": len(confirmed_seats) == sold,
        "orphan_charges": kinds["orphan_charge"],
        "invariant_violations": len(violations),
        "violations": [f"{v.kind}: {v.detail}" for v in violations[:20]],
        "checkouts_still_running": still_running,
        "seconds_to_all_terminal": waited,
        "http_5xx": sum(o.http_5xx for o in outcomes),
        "hold": hold,
        "refusal": refusal,
        # the same refusals timed inside the API (Server-Timing): from the middleware's start to
        # the response's; the rest of ``refusal`` is the load generator's and the kernel's
        # queues, and the wait of a request the API's busy event loop had not read yet
        "refusal_inside_api": refusal_inside_api,
        "pay_to_terminal": pay,
        "seat_map": summary_ms(lat["seat_map"]),
        "clients_waiting_on": clients_waiting_on(lat, sale_seconds),
        # seat maps and refusals answered per second: the sale's fast requests
        "fast_requests_per_s": per_second(len(lat["seat_map"]) + len(lat["refusal"]), sale_seconds),
        # the same requests timed inside each API process (bench/api_metrics.py)
        "api_side": [
            api_metrics.summarize(b, a) for b, a in zip(api_before, api_after, strict=True)
        ],
        "cpu_cores_used": cpu,
        # how long each process was ready to run and had no core (bench/stats.py)
        "waiting_for_cpu": waits,
        # the load generator's own collector pauses during the sale (bench/gc_pauses.py)
        "load_generator_gc": load_generator_gc.summary(),
        # how late its event loop ran: every latency above includes that (bench/loop_lag.py)
        "load_generator_loop_lag": load_generator_lag.summary(),
        # everything the sale cost (refused buyers' reads included), per successful hold
        "per_checkout": {
            # by process, the box's total and its kernel share included
            "cpu_ms": cpu_ms_each(before, after, per),
            "postgres_transactions": round((pg_after - pg_before) / per, 1),
            "redis_calls_shared_server": round((redis_after - redis_before) / per, 1),
            # every read and write the dev server made to its SQLite file
            "temporal_persistence_calls": round(server["persistence_calls"] / per, 1),
            "seats_per_confirmed_checkout": round(
                sum(len(o.seats) for o in outcomes) / max(results["confirmed"], 1), 2
            ),
            "http_requests": round(
                sum(
                    len(o.seat_map_ms) + len(o.hold_ms) + len(o.refusal_ms) + len(o.pay_ms)
                    for o in outcomes
                )
                / per,
                1,
            ),
        },
        "temporal_history": histories,  # while buyers were buying; 2 cores on the benchmark box
        "workflow_tasks_timed_out_or_failed": task_trouble,
        # the first worker's SDK metrics over the sale (with 2 workers: about half the work)
        "temporal_worker_metrics": temporal_metrics.summarize(temporal_before, temporal_after),
        # the dev server over the sale: per-operation latency, and the lost task starts
        "temporal_server_metrics": server,
        "hold_p50_ms": hold["p50_ms"],
        "hold_p99_ms": hold["p99_ms"],
        "refusal_p99_ms": refusal["p99_ms"],
        "refusal_inside_api_p99_ms": refusal_inside_api["p99_ms"],
        "pay_to_terminal_p99_ms": pay["p99_ms"],
    }
