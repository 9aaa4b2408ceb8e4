"""Admission of holds to the saga: at most ``limit`` per API process at Temporal at once.

Every hold that gets past the seat claims starts (or wakes) a checkout workflow, and the
Temporal server's time per call grows with the calls it has in flight. Unbounded, the calls
feed on themselves (the Python SDK re-sends update-with-start while a new checkout's first
task waits for a worker), and a hold can take so long that its claims lapse before its saga
runs. Past the limit, holds wait here instead, in arrival order, holding nothing at the
server and no seat lock yet (the claim, in Redis, keeps other buyers off their seats). A hold
that waits longer than ``max_wait_seconds`` is answered TRY_AGAIN and changes nothing.

Refusals never wait here: the claims answer them before admission.

A long line is load, not an outage: the line does not guess from slow or failed calls that the
saga is down. The backend watch says so (``api/backend_watch.py``), and the hold path
(``api/hold.py``) cancels the holds waiting here, and refuses new ones, while a backend the
hold needs is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.metrics import HOLD_ADMISSION_WAIT, HOLDS_IN_FLIGHT, HOLDS_SHED
from domain.errors import DomainError, ErrorCode


class HoldAdmission:
    def __init__(self, limit: int, max_wait_seconds: float) -> None:
        """``limit`` <= 0 admits every hold at once (no bound)."""
        self._max_wait_seconds = max_wait_seconds
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Waits for a slot (raises DomainError TRY_AGAIN past the wait bound), holds it
        for the body."""
        if self._slots is None:
            yield
            return
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._max_wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            HOLDS_SHED.inc()
            raise DomainError(
                ErrorCode.TRY_AGAIN,
                "the checkout service is busy; try again in a few seconds",
            ) from None
        HOLD_ADMISSION_WAIT.observe(time.monotonic() - started)
        HOLDS_IN_FLIGHT.inc()
        try:
            yield
        finally:
            HOLDS_IN_FLIGHT.dec()
            self._slots.release()
