"""The benchmark's own arithmetic: the scaling means and the box's CPU counters."""

from __future__ import annotations

import time

from bench.__main__ import _scaling_mean
from bench.stats import box_seconds, cpu_used


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
