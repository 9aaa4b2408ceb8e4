"""The benchmark's own arithmetic: the scaling means and the box's CPU counters."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time

from bench.__main__ import _scaling_mean, parse, ratio_if_saga_were_free, summarize
from bench.buyer import Outcome
from bench.flash_sale import clients_waiting_on, lapsed_after, sale_timeline
from bench.gc_pauses import GcPauses
from bench.loop_lag import LoopLag
from bench.stats import (
    BOX,
    box_seconds,
    cpu_ms_each,
    cpu_used,
    run_queue_waits,
    sched_snapshot,
)


def test_scaling_mean_averages_a_worker_count_and_its_repeat() -> None:
    out = {
        "scaling": {
            "workers_1": {"checkouts_per_s": 4.0},
            "workers_2": {"checkouts_per_s": 6.0},
            "workers_2_repeat": {"checkouts_per_s": 5.0},
            "workers_1_repeat": {"checkouts_per_s": 5.0},
        }
    }
    assert _scaling_mean(out, 1) == 4.5
    assert _scaling_mean(out, 2) == 5.5
    assert _scaling_mean(out, 3) is None
    assert _scaling_mean({}, 1) is None


def test_box_counters_grow_with_work_and_kernel_is_part_of_busy() -> None:
    before = box_seconds()
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:  # ~0.3 s of CPU on this process
        pass
    after = box_seconds()
    assert after[0] - before[0] >= 0.2  # clock ticks: coarse, never less than our own spin
    assert 0 <= after[1] <= after[0]
    used = cpu_used({"box": before[0]}, {"box": after[0]}, 0.3)
    assert used["box"] >= 0.6


def test_the_hold_is_also_compared_with_the_reference_measured_just_before_the_sale() -> None:
    args = parse(["--clients", "200"])
    out = {
        "ceilings": {
            "update_with_start": {
                "conc200": {"round_trip": {"p99_ms": 1000.0}},
                "before_sale": {"round_trip": {"p99_ms": 2500.0}},
            }
        },
        "flash": {"hold_p99_ms": 5000.0, "seats": 10},
    }
    summary = summarize(out, args)
    ratios = {t["target"].split(" (")[0]: t["value"] for t in summary["targets"]}
    assert summary["bare_update_with_start_conc200_p99_ms_before_sale"] == 2500.0
    assert ratios["hold_p99_ms <= 4 x bare update-with-start p99 at concurrency 200"] == 5.0
    assert (
        ratios["hold_p99_ms <= 4 x bare update-with-start p99 measured again just before the sale"]
        == 2.0
    )


def test_unsold_seats_are_traced_to_abandoned_holds_that_outlived_the_last_buyer() -> None:
    left_early = Outcome(result="abandoned", abandoned_seats=["a1", "a2"], finished_at=100.0)
    left_late = Outcome(result="abandoned", abandoned_seats=["b1"], finished_at=125.0)
    paid = Outcome(result="confirmed", seats=["c1"], finished_at=128.0)

    # the last buyer left at 130: a 30 s hold taken at 100 lapsed at 130, one taken at 125 later
    assert lapsed_after([left_early, left_late, paid], 130.0, 30) == {"b1"}
    assert lapsed_after([left_early, left_late, paid], 129.0, 30) == {"a1", "a2", "b1"}


def test_clients_waiting_on_each_kind_of_call_is_its_time_over_the_sale() -> None:
    lat = {"hold": [4000.0, 6000.0], "refusal": [100.0] * 50, "pay": [], "seat_map": []}

    # 10 s of holds and 5 s of refusals in a 10 s sale: 1 and 0.5 clients on average
    assert clients_waiting_on(lat, 10.0) == {
        "hold": 1.0,
        "refusal": 0.5,
        "pay": 0.0,
        "seat_map": 0.0,
    }


def test_the_load_generator_records_its_own_collector_pauses_only_inside_the_block() -> None:
    with GcPauses() as pauses:
        gc.collect()
    gc.collect()

    summary = pauses.summary()
    assert summary["collections"] == 1
    assert summary["total_ms"] == summary["max_ms"] >= 0
    assert pauses._callback not in gc.callbacks


async def test_the_load_generator_measures_how_late_its_event_loop_runs() -> None:
    async with LoopLag(interval=0.005) as lag:
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # the loop is blocked, as by a long decode: one sample waits it out
        await asyncio.sleep(0.05)
    samples = len(lag.lags_ms)
    await asyncio.sleep(0.03)

    summary = lag.summary()
    assert len(lag.lags_ms) == samples == summary["n"] >= 3  # nothing recorded after the block
    assert summary["max_ms"] >= 150
    assert summary["p50_ms"] < summary["max_ms"]


def test_the_timeline_says_when_the_last_buyer_who_bought_left() -> None:
    began = 1_000.0
    outcomes = [
        Outcome(result="confirmed", finished_at=began + 10),
        Outcome(result="sold_out", finished_at=began + 50),
        Outcome(result="confirmed", finished_at=began + 30),
        Outcome(result="declined", finished_at=began + 35),
        Outcome(result="confirmed", finished_at=began + 20),
    ]

    assert sale_timeline(outcomes, began, 60.0, checkouts=6) == {
        "half_confirmed_s": 20.0,
        "last_confirmed_s": 30.0,
        "after_last_confirmed_s": 30.0,
        "checkouts_per_s_until_last_confirmed": 0.2,
    }
    assert sale_timeline(outcomes[1:2], began, 60.0, checkouts=0)["last_confirmed_s"] is None


def test_run_queue_waits_show_processes_that_wanted_more_cores_than_the_box_has() -> None:
    """One process more than the box has cores, each spinning 0.6 s: together they wanted
    more core-seconds than the box had in that time, so the scheduler kept them waiting."""
    cores = len(os.sched_getaffinity(0))
    spin = "import time\nt = time.monotonic() + 0.6\nwhile time.monotonic() < t: pass\n"
    spin += "time.sleep(30)"  # alive, so its /proc entry can still be read
    children = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(cores + 1)]
    try:
        owned = {f"spin-{c.pid}": c.pid for c in children}
        before = {name: (0.0, 0.0) for name in owned}  # from their birth
        time.sleep(1.5)
        waits = run_queue_waits(before, sched_snapshot(owned), 1.0)
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert set(waits) == set(owned)
    waited = sum(w["all_threads"] for w in waits.values())
    assert waited >= 0.2 * (len(children) - cores)
    for wait in waits.values():
        assert wait["all_threads"] >= wait["main_thread"] >= 0.0


def test_run_queue_waits_are_shares_of_the_phase() -> None:
    before = {"api": (1.0, 3.0), "gone": (0.0, 0.0)}
    after = {"api": (1.5, 5.0), "new": (0.2, 0.4)}
    assert run_queue_waits(before, after, 2.0) == {
        "api": {"main_thread": 0.25, "all_threads": 1.0},
        "new": {"main_thread": 0.1, "all_threads": 0.2},
    }
    assert run_queue_waits(before, after, 0.0) == {}


def test_cpu_is_charged_per_unit_of_work_and_summarized_for_the_whole_box() -> None:
    before = {BOX: 10.0, "worker-1": 2.0}
    after = {BOX: 12.0, "worker-1": 2.5, "temporal": 0.3}
    assert cpu_ms_each(before, after, 20) == {BOX: 100.0, "worker-1": 25.0, "temporal": 15.0}
    assert cpu_ms_each(before, after, 0) == {}
    out = {
        "ceilings": {"bare_workflows": {"cpu_ms_per_workflow": {BOX: 70.0}}},
        "saga": {"saturated": {"cpu_ms_per_checkout": {BOX: 108.0}}},
        "flash": {"per_checkout": {"cpu_ms": {BOX: 165.0}}},
    }
    summary = summarize(out, parse([]))
    assert summary["bare_box_cpu_ms_per_workflow"] == 70.0
    assert summary["saga_saturated_box_cpu_ms_per_checkout"] == 108.0
    assert summary["sale_box_cpu_ms_per_checkout"] == 165.0


def test_the_ratio_if_the_saga_were_free_leaves_out_temporal_and_every_worker() -> None:
    bare = {BOX: 84.0, "temporal": 51.0, "bench (this process)": 33.0}
    sale = {
        BOX: 170.0,
        "temporal": 35.0,
        "worker-11": 20.0,
        "worker-12": 15.0,
        "api-10": 55.0,
        "bench (this process)": 23.0,
    }
    # the rest of the sale's checkout: 170 - 35 - 20 - 15 = 100 ms against the bare 84 ms
    assert ratio_if_saga_were_free(bare, sale) == 0.84
    assert ratio_if_saga_were_free(bare, {BOX: 100.0}) == 0.84
    assert ratio_if_saga_were_free(None, sale) is None
    assert ratio_if_saga_were_free(bare, {"temporal": 1.0}) is None
