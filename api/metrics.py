"""Prometheus metrics of the API (scraped at ``/metrics``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "api_request_seconds",
    "HTTP request latency",
    ["method", "path", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GRAPHQL_OPERATIONS = Counter(
    "api_graphql_operations_total", "GraphQL root fields executed", ["field", "outcome"]
)
LOCK_ACQUISITIONS = Counter(
    "api_lock_acquisitions_total",
    "Seat hold attempts (lockSeat, startCheckout, holdSeats) by outcome",
    ["outcome"],  # acquired | refused | error
)
SEAT_CLAIMS = Counter(
    "api_seat_claims_total",
    "Hold attempts by what the seats' Redis claims answered (refused: the saga was not asked)",
    ["outcome"],  # claimed | refused (by the claim script) | refused_by_copy (hold_refusals)
)
CHECKOUTS = Counter(
    "api_checkouts_total", "Checkouts finished through the API, by terminal status", ["outcome"]
)
SEATMAP_READS = Counter(
    "api_seatmap_reads_total",
    "Seat-map reads by where they were served from",
    # response_cache (hit), response_cache_stale (served during a re-render),
    # response_cache_follower (waited for a render), cache | rebuilt | database (the rows)
    ["source"],
)
RATE_LIMITED = Counter("api_rate_limited_total", "Requests refused by a rate limit", ["scope"])
HOLDS_IN_FLIGHT = Gauge(
    "api_holds_in_flight", "Holds this API process has admitted to the saga and not yet answered"
)
HOLD_ADMISSION_WAIT = Histogram(
    "api_hold_admission_wait_seconds",
    "How long an admitted hold waited for its turn (api/admission.py)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
)
HOLD_STEP = Histogram(
    "api_hold_step_seconds",
    "Time an admitted hold spent in each step: saga (the workflow update, DynamoDB included)",
    ["step"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
)
SEATMAP_RENDER_STEP = Histogram(
    "api_seatmap_render_seconds",
    "A seat-map response's render, by step: rows (the event's row and the map's, one thread "
    "hop), store (the response written to Redis)",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
HOLDS_SHED = Counter(
    "api_holds_shed_total", "Holds answered TRY_AGAIN after waiting too long for admission"
)


@lru_cache(maxsize=1024)
def labelled(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, looked up once: ``labels`` validates and locks on every
    call, and the fast paths (cached seat maps, refused holds) count on every request. The
    child is the registry's own, so it is the same series either way."""
    return metric.labels(*values)
