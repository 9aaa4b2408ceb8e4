"""Temporal's own view of the worker, from the SDK's Prometheus histograms (milliseconds).

The first worker of a sale exposes its metrics; the sale reads them before and after and
reports, per histogram, how many observations it made, their mean and the bucket bound
under which 95% of them fell. Schedule-to-start of workflow tasks says whether the worker
kept up (high: tasks waited for a free slot or poller), execution latency what a task cost,
and each local activity's latency where a checkout's time went.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from bench.prometheus_text import fetch

# histogram -> the label it is broken down by (None: one figure for the whole histogram)
REPORTED: dict[str, str | None] = {
    "temporal_workflow_task_schedule_to_start_latency": None,
    "temporal_workflow_task_execution_latency": None,
    "temporal_workflow_task_replay_latency": None,
    "temporal_local_activity_execution_latency": "activity_type",
    "temporal_activity_schedule_to_start_latency": "activity_type",
    "temporal_activity_execution_latency": "activity_type",
    "temporal_request_latency": "operation",
}
_SAMPLE = re.compile(
    r"^(?P<name>[a-z_]+?)_(?P<part>bucket|sum|count)\{(?P<labels>[^}]*)\} (?P<v>\S+)$"
)
_LABEL = re.compile(r'(\w+)="([^"]*)"')

# (histogram, group) -> {"sum": float, "count": float, "buckets": {le: cumulative count}}
Histograms = dict[tuple[str, str], dict[str, Any]]


def parse(text: str) -> Histograms:
    found: Histograms = defaultdict(lambda: {"sum": 0.0, "count": 0.0, "buckets": {}})
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] not in REPORTED:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        by = REPORTED[match["name"]]
        entry = found[(match["name"], labels.get(by, "") if by else "")]
        value = float(match["v"])
        if match["part"] == "bucket":
            le = float(labels["le"])  # "+Inf" parses as inf
            entry["buckets"][le] = entry["buckets"].get(le, 0.0) + value
        else:
            entry[match["part"]] += value
    return dict(found)


def summarize(before: Histograms, after: Histograms) -> dict[str, dict[str, Any]]:
    """Per histogram (and group): observations between the two scrapes, mean, p95 bound."""
    out: dict[str, dict[str, Any]] = {}
    for (name, group), now in sorted(after.items()):
        then = before.get((name, group), {"sum": 0.0, "count": 0.0, "buckets": {}})
        count = now["count"] - then["count"]
        if count <= 0:
            continue
        p95: float | str | None = None
        bounds = sorted(now["buckets"])
        for le in bounds:
            if now["buckets"][le] - then["buckets"].get(le, 0.0) >= 0.95 * count:
                finite = [b for b in bounds if b != float("inf")]
                p95 = le if le != float("inf") else f"> {max(finite, default=0):g}"
                break
        label = name.removeprefix("temporal_") + (f"[{group}]" if group else "")
        out[label] = {
            "n": int(count),
            "mean_ms": round((now["sum"] - then["sum"]) / count, 1),
            "p95_ms_at_most": p95,
        }
    return out


def scrape(url: str | None) -> Histograms:
    """The worker's histograms now; empty when it exposes none or cannot be reached."""
    return parse(fetch(url))
