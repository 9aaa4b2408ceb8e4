"""Micro-benchmark of seat-lock holds: acquire and release latency against a DynamoDB endpoint.

``python -m bench.micro_locks --endpoint http://127.0.0.1:5000`` (without ``--endpoint`` a
moto_server is started for the run and stopped after). Holds never contend: each one takes
fresh seats, so the figures are the cost of the conditional writes themselves.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.seat_locks import DynamoSeatLocks

SHAPES = ((1, 1), (4, 1), (1, 32), (4, 32))  # (seats per hold, concurrent callers)
TTL = 300


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported figure was observed)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def run(client: Any, table: str, seats_per_hold: int, concurrency: int, n: int) -> dict[str, Any]:
    """``n`` holds of ``seats_per_hold`` seats by ``concurrency`` threads; each hold released.

    Returns latencies in ms (p50/p99 of acquire and of release) and holds per second.
    """
    locks = DynamoSeatLocks(client, table)
    event_id = f"bench-{uuid.uuid4()}"
    counter = itertools.count()
    guard = threading.Lock()
    acquire_ms: list[float] = []
    release_ms: list[float] = []
    refused = 0

    def one_hold(i: int) -> tuple[float, float, bool]:
        seats = [f"s{i}-{k}" for k in range(seats_per_hold)]
        lock_id = f"hold-{i}"
        start = time.perf_counter()
        result = locks.acquire(event_id, seats, lock_id, "bench-user", TTL)
        acquired = time.perf_counter()
        locks.release(event_id, seats, lock_id)
        released = time.perf_counter()
        return (acquired - start) * 1000, (released - acquired) * 1000, result.acquired

    def worker() -> None:
        nonlocal refused
        while (i := next(counter)) < n:
            a, r, ok = one_hold(i)
            with guard:
                acquire_ms.append(a)
                release_ms.append(r)
                refused += not ok

    for i in range(-concurrency, 0):  # warm the connection pool, unmeasured
        one_hold(i)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    elapsed = time.perf_counter() - started
    return {
        "seats_per_hold": seats_per_hold,
        "concurrency": concurrency,
        "n": n,
        "refused": refused,  # must be 0: no two holds share a seat
        "acquire_p50_ms": round(percentile(acquire_ms, 50), 2),
        "acquire_p99_ms": round(percentile(acquire_ms, 99), 2),
        "release_p50_ms": round(percentile(release_ms, 50), 2),
        "release_p99_ms": round(percentile(release_ms, 99), 2),
        "holds_per_s": round(n / elapsed, 1),
    }


def run_all(client: Any, table: str, n: int) -> dict[str, dict[str, Any]]:
    return {
        f"seats{seats}_conc{conc}": run(client, table, seats, conc, n) for seats, conc in SHAPES
    }


def format_table(results: dict[str, dict[str, Any]]) -> str:
    header = "seats  conc     n  acq p50  acq p99  rel p50  rel p99  holds/s  refused"
    lines = [header, "-" * len(header)]
    for r in results.values():
        lines.append(
            f"{r['seats_per_hold']:>5} {r['concurrency']:>5} {r['n']:>5} "
            f"{r['acquire_p50_ms']:>8.2f} {r['acquire_p99_ms']:>8.2f} "
            f"{r['release_p50_ms']:>8.2f} {r['release_p99_ms']:>8.2f} "
            f"{r['holds_per_s']:>8.1f} {r['refused']:>8}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="DynamoDB endpoint; default: start a moto_server")
    parser.add_argument("--n", type=int, default=200, help="holds per shape")
    args = parser.parse_args(argv)

    stack = None
    endpoint = args.endpoint
    if endpoint is None:
        from devstack.services import Stack  # only needed when no endpoint is given

        stack = Stack()
        stack.start_dynamodb(None, Path(tempfile.mkdtemp(prefix="bench-locks-")))
        endpoint = stack.dynamodb_endpoint
    client = make_client(endpoint)
    table = f"bench-seat-locks-{uuid.uuid4().hex[:8]}"
    try:
        ensure_seat_lock_table(client, table)
        results = run_all(client, table, args.n)
    finally:
        try:
            client.delete_table(TableName=table)
        finally:
            if stack is not None:
                stack.stop()
    print(f"seat-lock holds against {endpoint} (ms; each hold acquired then released)")
    print(format_table(results))
    return results


if __name__ == "__main__":
    main()
