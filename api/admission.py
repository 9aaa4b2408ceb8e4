"""Admission of holds to the saga: at most ``limit`` per API process at Temporal at once.

Every hold that gets past the seat claims starts (or wakes) a checkout workflow, and the
Temporal server's time per call grows with the calls it has in flight. Unbounded, the calls
feed on themselves (the Python SDK re-sends update-with-start while a new checkout's first
task waits for a worker), and a hold can take so long that its claims lapse before its saga
runs. Past the limit, holds wait here instead, in arrival order, holding nothing at the
server and no seat lock yet (the claim, in Redis, keeps other buyers off their seats). A hold
that waits longer than ``max_wait_seconds`` is answered TRY_AGAIN and changes nothing.

Refusals never wait here: the claims answer them before admission.

While the saga does not answer (the last call through a slot ended TRY_AGAIN: Temporal or a
backend of the hold step is down), the line is no place to wait: every slot is held by a call
that will time out too. A hold then waits at most ``outage_wait_seconds`` and is answered
TRY_AGAIN, until a call through a slot is answered again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.metrics import HOLD_ADMISSION_WAIT, HOLDS_IN_FLIGHT, HOLDS_SHED
from domain.errors import DomainError, ErrorCode


class HoldAdmission:
    def __init__(
        self, limit: int, max_wait_seconds: float, outage_wait_seconds: float | None = None
    ) -> None:
        """``limit`` <= 0 admits every hold at once (no bound)."""
        self._max_wait_seconds = max_wait_seconds
        self._outage_wait_seconds = (
            max_wait_seconds if outage_wait_seconds is None else outage_wait_seconds
        )
        self._slots = asyncio.Semaphore(limit) if limit > 0 else None
        self._unanswered = False  # the last call through a slot ended TRY_AGAIN

    @property
    def saga_unanswered(self) -> bool:
        return self._unanswered

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Waits for a slot (raises DomainError TRY_AGAIN past the wait bound), holds it
        for the body."""
        if self._slots is None:
            async with self._watch():
                yield
            return
        started = time.monotonic()
        wait = self._outage_wait_seconds if self._unanswered else self._max_wait_seconds
        try:
            async with asyncio.timeout(wait):
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
            async with self._watch():
                yield
        finally:
            HOLDS_IN_FLIGHT.dec()
            self._slots.release()

    @asynccontextmanager
    async def _watch(self) -> AsyncIterator[None]:
        """Notes whether the saga answered the call in the body: TRY_AGAIN means it did not;
        any other outcome, a refusal included, means it did."""
        try:
            yield
        except DomainError as exc:
            self._unanswered = exc.code == ErrorCode.TRY_AGAIN
            raise
        self._unanswered = False
