"""The dev server's counters, read from Prometheus text: per-operation deltas, lost starts."""

from __future__ import annotations

from bench.temporal_server_metrics import parse, summarize

BEFORE = """
service_latency_sum{namespace="default",operation="QueryWorkflow",service_name="frontend"} 1.5
service_latency_count{namespace="default",operation="QueryWorkflow",service_name="frontend"} 3
client_requests{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 10
client_errors{error_type="serviceerror_DeadlineExceeded",namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 1
"""  # noqa: E501
AFTER = """
# HELP service_latency_sum whatever
service_latency_sum{namespace="default",operation="QueryWorkflow",service_name="frontend"} 3.5
service_latency_count{namespace="default",operation="QueryWorkflow",service_name="frontend"} 7
service_latency_sum{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 600
service_latency_count{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 10
service_latency_sum{namespace="default",operation="RecordWorkflowTaskStarted",service_name="history"} 1.2
service_latency_count{namespace="default",operation="RecordWorkflowTaskStarted",service_name="history"} 2
service_latency_sum{namespace="default",operation="AddWorkflowTask",service_name="matching"} 9
service_latency_count{namespace="default",operation="AddWorkflowTask",service_name="matching"} 9
client_requests{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 40
client_errors{error_type="serviceerror_DeadlineExceeded",namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 6
client_errors{error_type="serviceerror_TaskAlreadyStarted",namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 4
client_errors{error_type="serviceerror_NotFound",namespace="default",operation="HistoryClientRecordActivityTaskStarted",service_name="matching",service_role="history"} 2
persistence_latency_sum{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 2.0
persistence_latency_count{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 8
persistence_latency_sum{namespace="default",operation="UpsertWorkflowExecution",service_name="history"} 0.5
persistence_latency_count{namespace="default",operation="UpsertWorkflowExecution",service_name="history"} 5
persistence_latency_sum{namespace="default",operation="CreateTasks",service_name="matching"} 0.1
persistence_latency_count{namespace="default",operation="CreateTasks",service_name="matching"} 1
"""  # noqa: E501


def test_operation_latency_deltas_leave_out_long_polls_and_other_services() -> None:
    figures = summarize(parse(BEFORE), parse(AFTER))

    # 4 more queries, 2 s more in all
    assert figures["frontend"] == {"QueryWorkflow": {"n": 4, "mean_ms": 500.0}}
    assert figures["history"] == {"RecordWorkflowTaskStarted": {"n": 2, "mean_ms": 600.0}}


def test_each_task_already_started_is_a_lost_workflow_task() -> None:
    figures = summarize(parse(BEFORE), parse(AFTER))

    assert figures["task_start_records"] == 30
    assert figures["task_start_record_errors"] == {"DeadlineExceeded": 5, "TaskAlreadyStarted": 4}
    assert figures["task_starts_lost"] == 4


def test_no_server_metrics_reads_as_nothing_measured() -> None:
    figures = summarize({}, {})

    assert figures["frontend"] == {} and figures["task_starts_lost"] == 0


def test_persistence_calls_are_counted_per_operation_across_services() -> None:
    figures = summarize(parse(BEFORE), parse(AFTER))

    assert figures["persistence"] == {
        "UpdateWorkflowExecution": {"n": 8, "mean_ms": 250.0},
        "UpsertWorkflowExecution": {"n": 5, "mean_ms": 100.0},
        "CreateTasks": {"n": 1, "mean_ms": 100.0},
    }
    assert figures["persistence_calls"] == 14
