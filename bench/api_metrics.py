"""The API's own view of a sale's requests: ``api_request_seconds`` for ``/graphql``.

Measured from the API's outermost middleware to the last byte of the response, so it leaves
out what a request waits before the API runs it: the kernel's queues, uvicorn's parsing, the
event loop's backlog, and the load generator's own loop. Set beside the buyers' latencies,
it tells whether a slow answer was slow inside the API or waiting around it.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.prometheus_text import fetch

METRIC = "api_request_seconds"
PATH = "/graphql"
# api/admission.py: how long admitted holds waited for their turn, and how many were shed
ADMISSION_WAIT = "api_hold_admission_wait_seconds"
SHED = "api_holds_shed_total"
# api/hold.py: an admitted hold's time at the saga
HOLD_STEP = "api_hold_step_seconds"
# api/hold.py: holds refused by their seats' claims, from the process's copy or the script
SEAT_CLAIMS = "api_seat_claims_total"
# api/graphql_http.py, api/response_cache.py, api/resolvers/catalog.py: where seat maps came from
SEATMAP_READS = "api_seatmap_reads_total"
SEATMAP_RENDER_STEP = "api_seatmap_render_seconds"

# le (seconds, inf for +Inf) -> cumulative count, plus the running sum and count
Histogram = dict[str, Any]


def parse(text: str) -> Histogram:
    """The ``/graphql`` histogram, every method and status added together."""
    found: Histogram = {"buckets": {}, "sum": 0.0, "count": 0.0, "counters": {}}
    for family in text_string_to_metric_families(text):
        if family.name != METRIC:
            _add_counters(found["counters"], family.samples)
            continue
        for sample in family.samples:
            if sample.labels.get("path") != PATH:
                continue
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                found["buckets"][le] = found["buckets"].get(le, 0.0) + sample.value
            elif sample.name.endswith("_sum"):
                found["sum"] += sample.value
            elif sample.name.endswith("_count"):
                found["count"] += sample.value
    return found


def _add_counters(counters: dict[str, float], samples: Any) -> None:
    """The hold and seat-map samples ``_holds`` reads, keyed by name and labels."""
    for sample in samples:
        if sample.name in (SHED, f"{ADMISSION_WAIT}_count", f"{ADMISSION_WAIT}_sum"):
            counters[sample.name] = sample.value
        elif sample.name in (
            f"{HOLD_STEP}_count",
            f"{HOLD_STEP}_sum",
            f"{SEATMAP_RENDER_STEP}_count",
            f"{SEATMAP_RENDER_STEP}_sum",
        ):
            counters[f"{sample.name}:{sample.labels['step']}"] = sample.value
        elif sample.name == SEAT_CLAIMS:
            counters[f"{sample.name}:{sample.labels['outcome']}"] = sample.value
        elif sample.name == SEATMAP_READS:
            counters[f"{sample.name}:{sample.labels['source']}"] = sample.value


def _at_most(before: Histogram, after: Histogram, count: float, share: float) -> float | str:
    """The smallest bucket bound (ms) under which ``share`` of the new requests fell."""
    bounds = sorted(after["buckets"])
    for le in bounds:
        if after["buckets"][le] - before["buckets"].get(le, 0.0) >= share * count:
            if le == float("inf"):
                return f"> {max((b for b in bounds if b != le), default=0) * 1000:g}"
            return round(le * 1000, 1)
    return "n/a"


def summarize(before: Histogram, after: Histogram) -> dict[str, Any]:
    """Requests between two scrapes: count, mean, and the bucket bounds of p50 and p99."""
    count = after["count"] - before["count"]
    if count <= 0:
        return {"n": 0}
    return {
        "n": int(count),
        "mean_ms": round((after["sum"] - before["sum"]) / count * 1000, 1),
        "p50_ms_at_most": _at_most(before, after, count, 0.50),
        "p99_ms_at_most": _at_most(before, after, count, 0.99),
        "holds": _holds(before.get("counters", {}), after.get("counters", {})),
    }


def _holds(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Between two scrapes: where seat maps were served from and what a render took; where
    holds' claims were read and who refused them; holds admitted to the saga, their mean wait
    for a turn, and holds shed (TRY_AGAIN)."""

    def new(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    admitted = new(f"{ADMISSION_WAIT}_count")
    wait = new(f"{ADMISSION_WAIT}_sum")
    steps = {}
    for step in ("saga",):
        n = new(f"{HOLD_STEP}_count:{step}")
        steps[step] = round(new(f"{HOLD_STEP}_sum:{step}") / n * 1000, 1) if n else None
    render = {}
    for step in ("rows", "store"):
        n = new(f"{SEATMAP_RENDER_STEP}_count:{step}")
        render[step] = round(new(f"{SEATMAP_RENDER_STEP}_sum:{step}") / n * 1000, 1) if n else None
    prefix = f"{SEATMAP_READS}:"
    sources = {k[len(prefix) :] for k in (*before, *after) if k.startswith(prefix)}
    return {
        # seat-map reads by where they were served from (the rows' sources count renders)
        "seat_map_reads": {source: int(new(prefix + source)) for source in sorted(sources)},
        # a seat-map render's mean time in each step (api/resolvers/catalog.py, response_cache)
        "mean_seat_map_render_ms": render,
        # holds refused by their seats' claims, before the saga was asked
        "refused_by_copy": int(new(f"{SEAT_CLAIMS}:refused_by_copy")),
        "refused_by_claim_script": int(new(f"{SEAT_CLAIMS}:refused")),
        "admitted": int(admitted),
        "mean_admission_wait_ms": round(wait / admitted * 1000, 1) if admitted else None,
        # then, once admitted: the saga's update (its hold step takes the DynamoDB locks)
        "mean_step_ms": steps,
        "shed": int(new(SHED)),
    }


def scrape(base_url: str) -> Histogram:
    """The API's histogram now; empty when the API cannot be reached."""
    return parse(fetch(f"{base_url}/metrics"))
