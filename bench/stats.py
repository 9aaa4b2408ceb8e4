"""Latency summaries: nearest-rank percentiles, so every reported figure was observed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.micro_locks import percentile


def summary_ms(samples_ms: Sequence[float]) -> dict[str, Any]:
    """n, p50, p99 and max of latencies in milliseconds (None when there is no sample)."""
    if not samples_ms:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 1),
        "p99_ms": round(percentile(samples_ms, 99), 1),
        "max_ms": round(max(samples_ms), 1),
    }


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


# --- where the CPU goes: per-process CPU seconds from /proc, before and after a phase ---

BOX = "box: busy, all processes and kernel"  # the whole machine's entry in a snapshot


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def box_seconds() -> tuple[float, float]:
    """(busy, kernel) CPU seconds of the whole machine so far, from ``/proc/stat``.

    Per-process figures miss what no listed process owns: PostgreSQL backends that come and
    go between two snapshots and the kernel's loopback networking. The box's own counters
    show whether the machine, not one process, is the limit.
    """
    try:
        line = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return 0.0, 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (system + irq + softirq) / tick


def cpu_snapshot(owned: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each owned process, this process, the shared PostgreSQL/Redis
    (every process of those names on the machine: other users' load shows up there too), and
    the whole box (busy, of which kernel)."""
    snap = {name: cpu_seconds(pid) for name, pid in owned.items()}
    snap["bench (this process)"] = sum(os.times()[:2])
    for shared in ("postgres", "redis-server"):
        snap[f"{shared} (all, shared)"] = sum(cpu_seconds(pid) for pid in pids_named(shared))
    snap[BOX], snap["box: kernel"] = box_seconds()
    return snap


def cpu_ms_each(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (a workflow, a checkout) of each process over a
    phase; the ``box`` entries say what the whole machine spent on each."""
    if count <= 0:
        return {}
    spent = {name: round((after[name] - before.get(name, 0.0)) * 1000 / count, 1) for name in after}
    return dict(sorted(spent.items(), key=lambda kv: -kv[1]))


# --- waiting for a CPU: the scheduler's run-queue time per thread, from /proc ---


def _schedstat(path: Path) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of one thread."""
    try:
        on_cpu, waiting, _ = path.read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def sched_snapshot(owned: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Per owned process: its main thread's and all its threads' run-queue seconds so far,
    as ``{name: (main thread waiting, all threads waiting)}``.

    A Python service's main thread is its event loop: while it waits in the run queue, every
    request it holds waits too, however little CPU the request itself needs. On a box where
    the load generator, the API, the worker and the servers share two cores, this is the
    share of a request's latency that is the box's and not the code's.
    """
    snap = {}
    for name, pid in owned.items():
        _, main = _schedstat(Path(f"/proc/{pid}/schedstat"))
        try:
            threads = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            threads = []
        every = sum(_schedstat(t / "schedstat")[1] for t in threads)
        snap[name] = (main, every)
    return snap


def run_queue_waits(
    before: dict[str, tuple[float, float]],
    after: dict[str, tuple[float, float]],
    seconds: float,
) -> dict[str, dict[str, float]]:
    """Per process over a phase: ``main_thread`` is the share of the phase its main thread
    (an event loop) was ready to run and had no CPU; ``all_threads`` the average number of
    its threads waiting for one. Threads that ended within the phase are not counted."""
    if seconds <= 0:
        return {}
    waits = {}
    for name, (main, every) in after.items():
        main_before, every_before = before.get(name, (0.0, 0.0))
        waits[name] = {
            "main_thread": round((main - main_before) / seconds, 3),
            "all_threads": round(max(0.0, every - every_before) / seconds, 3),
        }
    return dict(sorted(waits.items(), key=lambda kv: -kv[1]["main_thread"]))


def cpu_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per process over the phase (1.0 = one core busy the whole time)."""
    if seconds <= 0:
        return {}
    used = {name: round((after[name] - before.get(name, 0.0)) / seconds, 2) for name in after}
    return dict(sorted(used.items(), key=lambda kv: -kv[1]))
