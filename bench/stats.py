"""Latency summaries: nearest-rank percentiles, so every reported figure was observed."""

from __future__ import annotations

from collections.abc import Sequence
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
