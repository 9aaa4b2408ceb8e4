"""Issue 5's figures: checkouts straight through ``CheckoutClient`` (no HTTP), 1 and 2 workers.

Each checkout holds 1-4 seats of its own (no contention: this is the saga's cost, not races'),
then pays with the approving card and waits for the terminal state.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

from temporalio.client import Client

from adapters.payments import TOKEN_APPROVE
from adapters.temporal_converter import DATA_CONVERTER
from bench.stack import BenchStack, check_invariants, create_users, seed_event
from bench.stats import cpu_ms_each, cpu_snapshot, per_second, summary_ms
from bootstrap import checkout_client
from config.settings import Settings


async def run_checkouts(
    client: Client,
    bench: BenchStack,
    n: int,
    concurrency: int,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 4) for _ in range(n)]
    event = await asyncio.to_thread(seed_event, bench.engine, sum(sizes), 20, f"saga-{seed}")
    ((user_id, _),) = await asyncio.to_thread(create_users, bench.engine, 1)
    holds, cursor = [], 0
    for size in sizes:
        holds.append(event.seat_ids[cursor : cursor + size])
        cursor += size
    # as the API starts them (bootstrap.py), with holds long enough for the whole run
    settings = Settings(task_queue=bench.task_queue)
    checkouts = checkout_client(settings, client, hold_seconds=120)
    hold_ms: list[float] = []
    pay_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    work = iter(holds)

    async def lane() -> None:
        for seats in work:
            checkout_id = str(uuid.uuid4())
            began = time.perf_counter()
            held = await checkouts.start_and_hold(checkout_id, user_id, event.event_id, seats)
            hold_ms.append((time.perf_counter() - began) * 1000)
            if not held.held:
                outcomes[f"hold_refused:{held.failure_reason}"] += 1
                continue
            paid = time.perf_counter()
            state = await checkouts.submit_payment(checkout_id, TOKEN_APPROVE)
            pay_ms.append((time.perf_counter() - paid) * 1000)
            outcomes[state.status] += 1

    before = cpu_snapshot(bench.pids())
    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    cpu = cpu_ms_each(before, cpu_snapshot(bench.pids()), n)
    violations = await check_invariants(bench, client, [event.event_id])
    return {
        "checkouts": n,
        "concurrency": concurrency,
        "seconds": round(wall, 2),
        "checkouts_per_s": per_second(n, wall),
        "hold": summary_ms(hold_ms),
        "pay_to_terminal": summary_ms(pay_ms),
        "outcomes": dict(outcomes),
        "invariant_violations": [f"{v.kind}: {v.detail}" for v in violations],
        "cpu_ms_per_checkout": cpu,
    }


async def run(
    bench: BenchStack, n: int = 200, concurrency: int = 20, saturating: int | None = None
) -> dict[str, Any]:
    """Issue 5's runs (1 and 2 workers at ``concurrency``); with ``saturating``, also one
    worker at that concurrency: the real checkout against the bare workflow, like for like."""
    client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
    result: dict[str, Any] = {}
    runs = [(f"workers_{w}", w, concurrency) for w in (1, 2)]
    if saturating:
        runs.append(("saturated", 1, saturating))
    for name, workers, lanes in runs:
        procs = await asyncio.to_thread(bench.start_workers, workers)
        try:
            result[name] = await run_checkouts(client, bench, n, lanes, seed=len(result) + 1)
        finally:
            for proc in procs:
                await asyncio.to_thread(bench.stop_app, proc)
    return result
