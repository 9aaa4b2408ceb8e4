"""The Temporal dev server's own view of a sale, from its Prometheus counters.

Per frontend and history operation: how many calls and their mean latency. And the
outcomes of Matching's ``RecordWorkflowTaskStarted`` calls to History, which is where the
sale's timed-out workflow tasks come from: Matching gives History 1 s to record a
sync-matched task as started (``recordTaskStartedSyncMatchTimeout``, a constant of the
server). When History takes longer, it still records the start, but Matching has given up
and offers the task again; History then answers ``TaskAlreadyStarted`` and the task is
dropped, so no worker ever receives it and it waits out the workflow-task timeout
(temporalio/temporal#11733, fix proposed in #11734). Each ``TaskAlreadyStarted`` below is one
such lost task.

And the server's persistence calls per operation: the dev server keeps everything in one SQLite
file, so every write (history, visibility, task queues, timers) waits its turn, and the count
per checkout is the server's cost of a checkout.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from bench.prometheus_text import fetch

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<v>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_LATENCY = ("service_latency_sum", "service_latency_count")
_PERSISTENCE = ("persistence_latency_sum", "persistence_latency_count")
_START_RECORDS = "HistoryClientRecordWorkflowTaskStarted"
# Long polls wait by design; their latency says nothing about the server's speed.
_LONG_POLLS = frozenset({"PollWorkflowTaskQueue", "PollActivityTaskQueue"})

# (metric, service, operation or error type) -> value
Counters = dict[tuple[str, str, str], float]


def parse(text: str) -> Counters:
    found: Counters = defaultdict(float)
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        name = match["name"]
        labels = dict(_LABEL.findall(match["labels"]))
        if name in _LATENCY and labels.get("service_name") in ("frontend", "history"):
            found[(name, labels["service_name"], labels.get("operation", ""))] += float(match["v"])
        elif name in _PERSISTENCE:
            found[(name, "persistence", labels.get("operation", ""))] += float(match["v"])
        elif name in ("client_errors", "client_requests") and (
            labels.get("operation") == _START_RECORDS
        ):
            kind = labels.get("error_type", "all").removeprefix("serviceerror_")
            found[(name, "matching", kind)] += float(match["v"])
    return dict(found)


def summarize(before: Counters, after: Counters) -> dict[str, Any]:
    """What happened between two scrapes: per-operation calls and mean ms, lost task starts."""

    def delta(key: tuple[str, str, str]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    latency: dict[str, dict[str, dict[str, float]]] = {
        "frontend": {},
        "history": {},
        "persistence": {},
    }
    for name, service, operation in after:
        if name not in (_LATENCY[1], _PERSISTENCE[1]) or operation in _LONG_POLLS:
            continue
        calls = delta((name, service, operation))
        if calls > 0:
            seconds = delta((name.replace("_count", "_sum"), service, operation))
            latency[service][operation] = {
                "n": int(calls),
                "mean_ms": round(seconds / calls * 1000, 1),
            }
    errors = {
        kind: int(delta(("client_errors", "matching", kind)))
        for name, service, kind in after
        if name == "client_errors" and delta(("client_errors", "matching", kind)) > 0
    }
    return {
        **{
            service: dict(sorted(ops.items(), key=lambda kv: -kv[1]["n"]))
            for service, ops in latency.items()
        },
        "persistence_calls": int(sum(op["n"] for op in latency["persistence"].values())),
        "task_start_records": int(delta(("client_requests", "matching", "all"))),
        "task_start_record_errors": errors,
        # one dropped delivery per TaskAlreadyStarted: the workflow task waits out its timeout
        "task_starts_lost": errors.get("TaskAlreadyStarted", 0),
    }


def scrape(url: str | None) -> Counters:
    """The server's counters now; empty when it exposes none or cannot be reached."""
    return parse(fetch(url))
