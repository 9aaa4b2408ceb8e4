"""How late the load generator's own event loop runs, while a sale runs.

One process plays the sale's 200 buyers. A reply that has arrived is only timed once the loop
gets to it, so while the loop is busy (decoding another buyer's seat map, picking seats, or
waiting for a core on the shared box) every request in flight looks that much slower. This
measures that delay directly: a task asks to wake every ``interval`` and records how late it
woke. Reported beside the latencies, it shows how much of their tail is the instrument's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Any

from bench.stats import summary_ms


class LoopLag:
    """``async with LoopLag():`` samples the running loop's lateness until the block ends."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags_ms.append(max(0.0, (time.perf_counter() - asked - self.interval) * 1000))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self) -> dict[str, Any]:
        return summary_ms(self.lags_ms)
