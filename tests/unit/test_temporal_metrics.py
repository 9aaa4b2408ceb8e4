"""Temporal's SDK histograms, read from Prometheus text: grouping, deltas, the p95 bound."""

from __future__ import annotations

from bench.temporal_metrics import parse, summarize

BEFORE = """
# TYPE temporal_local_activity_execution_latency histogram
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="50"} 1
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="100"} 2
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="+Inf"} 2
temporal_local_activity_execution_latency_sum{activity_type="hold_seats"} 120
temporal_local_activity_execution_latency_count{activity_type="hold_seats"} 2
"""
AFTER = """
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="50"} 11
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="100"} 20
temporal_local_activity_execution_latency_bucket{activity_type="hold_seats",le="+Inf"} 22
temporal_local_activity_execution_latency_sum{activity_type="hold_seats"} 1720
temporal_local_activity_execution_latency_count{activity_type="hold_seats"} 22
temporal_workflow_task_execution_latency_bucket{task_queue="a",le="10"} 3
temporal_workflow_task_execution_latency_bucket{task_queue="b",le="10"} 1
temporal_workflow_task_execution_latency_bucket{task_queue="a",le="+Inf"} 3
temporal_workflow_task_execution_latency_bucket{task_queue="b",le="+Inf"} 2
temporal_workflow_task_execution_latency_sum{task_queue="a"} 15
temporal_workflow_task_execution_latency_sum{task_queue="b"} 25
temporal_workflow_task_execution_latency_count{task_queue="a"} 3
temporal_workflow_task_execution_latency_count{task_queue="b"} 2
temporal_sticky_cache_hit{task_queue="a"} 7
"""


def test_deltas_per_activity_and_the_bucket_that_holds_95_percent() -> None:
    figures = summarize(parse(BEFORE), parse(AFTER))

    # 20 new observations, 1,600 ms in all; 18 of them <= 100 ms, so p95 lies above 100
    assert figures["local_activity_execution_latency[hold_seats]"] == {
        "n": 20,
        "mean_ms": 80.0,
        "p95_ms_at_most": "> 100",
    }


def test_ungrouped_histograms_add_up_over_labels_and_other_metrics_are_ignored() -> None:
    figures = summarize({}, parse(AFTER))

    assert figures["workflow_task_execution_latency"] == {
        "n": 5,
        "mean_ms": 8.0,
        "p95_ms_at_most": "> 10",  # 4 of 5 <= 10 ms: 80%
    }
    assert not any("sticky" in name for name in figures)
    assert summarize(parse(AFTER), parse(AFTER)) == {}  # nothing happened in between
