"""The machine's own limits, re-measured in every run (the box is noisy).

* bare workflows: a workflow of 5 no-op activities, run by a bare worker in this process on its
  own task queue: completed workflows per second (B, the figure the checkout is held against);
* bare update-with-start: start a workflow and get an update's answer in one round trip, as a
  hold does, with no activity in the update (and with one no-op activity, for comparison);
* moto: conditional ``PutItem`` per second (each on a fresh key, so every put succeeds);
* PostgreSQL: booking transactions per second (``bench.micro_bookings``).

Imports at module level stay sandbox-safe: the Temporal sandbox re-imports this module to run
the two workflows below. Everything else is imported where it is used.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# How many bare workflows run at once: enough to saturate the server; the saga section runs
# real checkouts at the same concurrency, so the two throughputs compare like with like.
BARE_CONCURRENCY = 50


@activity.defn(name="bench_noop")
async def noop(i: int) -> int:
    return i


@workflow.defn(name="BenchFiveNoops")
class FiveNoops:
    @workflow.run
    async def run(self, n: int) -> int:
        for i in range(5):
            await workflow.execute_activity(noop, i, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return n


@workflow.defn(name="BenchHoldOnly")
class HoldOnly:
    """Finishes as soon as its one update has answered, like a refused hold."""

    def __init__(self) -> None:
        self._answered = False

    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.wait_condition(lambda: self._answered)
        return n

    @workflow.update(name="hold")
    async def hold(self, with_activity: bool) -> bool:
        if with_activity:
            await workflow.execute_activity(noop, 0, start_to_close_timeout=ACTIVITY_TIMEOUT)
        self._answered = True
        return True


async def _gather_limited(concurrency: int, n: int, one: Any) -> tuple[list[float], float]:
    """Runs ``one(i)`` n times, ``concurrency`` at a time; (latencies ms, wall seconds)."""
    latencies: list[float] = []
    next_i = iter(range(n))

    async def lane() -> None:
        for i in next_i:
            began = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def bare_workflows(
    client: Client, task_queue: str, n: int, concurrency: int, owned: dict[str, int]
) -> dict[str, Any]:
    """``owned``: the run's processes by name, whose CPU the workflows are charged with (the
    bare worker runs in this process, which is always counted)."""
    from bench.stats import cpu_ms_each, cpu_snapshot, per_second, summary_ms

    async def one(i: int) -> None:
        await client.execute_workflow(
            FiveNoops.run, i, id=f"bench-bare-{uuid.uuid4()}", task_queue=task_queue
        )

    await _gather_limited(4, 8, one)  # warm-up, unmeasured
    before = cpu_snapshot(owned)
    latencies, wall = await _gather_limited(concurrency, n, one)
    return {
        "n": n,
        "concurrency": concurrency,
        "workflows_per_s": per_second(n, wall),
        "latency": summary_ms(latencies),
        "cpu_ms_per_workflow": cpu_ms_each(before, cpu_snapshot(owned), n),
    }


async def update_with_start(
    client: Client, task_queue: str, n: int, concurrency: int, with_activity: bool = False
) -> dict[str, Any]:
    from bench.stats import per_second, summary_ms

    async def one(i: int) -> None:
        start = WithStartWorkflowOperation(
            HoldOnly.run,
            i,
            id=f"bench-uws-{uuid.uuid4()}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await client.execute_update_with_start_workflow(
            HoldOnly.hold, with_activity, start_workflow_operation=start
        )

    await _gather_limited(2, 4, one)
    latencies, wall = await _gather_limited(concurrency, n, one)
    return {
        "n": n,
        "concurrency": concurrency,
        "with_activity": with_activity,
        "round_trip": summary_ms(latencies),
        "per_s": per_second(n, wall),
    }


def moto_puts(client: Any, table: str, n: int, concurrency: int = 16) -> dict[str, Any]:
    """Conditional puts (``attribute_not_exists``) on fresh keys from ``concurrency`` threads."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.stats import per_second, summary_ms

    prefix = f"ceiling-{uuid.uuid4()}"
    latencies: list[float] = []

    def put(i: int) -> None:
        began = time.perf_counter()
        client.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"{prefix}#{i}"},
                "event_id": {"S": prefix},
                "expires_at": {"N": str(int(time.time()) + 60)},
            },
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
        )
        latencies.append((time.perf_counter() - began) * 1000)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(put, range(-concurrency, 0)))  # warm the connection pool
        latencies.clear()
        began = time.perf_counter()
        list(pool.map(put, range(n)))
        wall = time.perf_counter() - began
    return {
        "n": n,
        "concurrency": concurrency,
        "puts_per_s": per_second(n, wall),
        "latency": summary_ms(latencies),
    }


async def update_with_start_now(bench: Any, n: int, concurrency: int) -> dict[str, Any]:
    """The bare update-with-start again, on the server as it is now (with every earlier
    section's history in its SQLite file), for a comparison under the same conditions."""
    client = await Client.connect(bench.stack.temporal_address)
    task_queue = f"bench-bare-again-{bench.run_id}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[HoldOnly],
        activities=[noop],
        max_concurrent_workflow_tasks=200,
        max_concurrent_activities=200,
    ):
        return await update_with_start(client, task_queue, n, concurrency)


async def run(bench: Any, quick: bool, sale_clients: int) -> dict[str, Any]:
    """Every ceiling; ``bench`` is a :class:`bench.stack.BenchStack`."""
    from bench import micro_bookings

    client = await Client.connect(bench.stack.temporal_address)
    task_queue = f"bench-bare-{bench.run_id}"
    n_bare = 100 if quick else 300
    result: dict[str, Any] = {}
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[FiveNoops, HoldOnly],
        activities=[noop],
        max_concurrent_workflow_tasks=200,
        max_concurrent_activities=200,
    ):
        result["bare_workflows"] = await bare_workflows(
            client, task_queue, n_bare, BARE_CONCURRENCY, bench.pids()
        )
        uws = {
            "conc1": await update_with_start(client, task_queue, 30 if quick else 60, 1),
            "conc20": await update_with_start(client, task_queue, n_bare, 20),
        }
        if f"conc{sale_clients}" not in uws:  # the hold target compares at the sale's concurrency
            uws[f"conc{sale_clients}"] = await update_with_start(
                client, task_queue, max(n_bare, 2 * sale_clients), sale_clients
            )
        uws["conc1_one_activity"] = await update_with_start(
            client, task_queue, 30 if quick else 60, 1, with_activity=True
        )
        result["update_with_start"] = uws
    result["moto_puts"] = await asyncio.to_thread(
        moto_puts, bench.dynamodb(), bench.seat_lock_table, 300 if quick else 1000
    )
    result["postgres_bookings"] = await asyncio.to_thread(
        micro_bookings.run, bench.engine, 16, 300 if quick else 1000
    )
    return result
