"""The collector's pauses in the load generator itself, while a sale runs.

One process plays the sale's 200 buyers, so while it collects, no reply is read and every
request in flight looks that much slower. With CPython's defaults its full collections took
up to 520 ms in a 10,000-buyer sale (``gc.callbacks``), as long as the refusals' p99 then.
So the load generator runs with the services' collector settings (``config/gc_tuning.py``),
and each sale reports what pauses were left, to show what its latencies still include.
"""

from __future__ import annotations

import gc
import time
from types import TracebackType
from typing import Any


class GcPauses:
    """Records every collection's pause while the ``with`` block runs."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {
            "collections": len(self.pauses_ms),
            "total_ms": round(sum(self.pauses_ms), 1),
            "max_ms": round(max(self.pauses_ms, default=0.0), 1),
        }
