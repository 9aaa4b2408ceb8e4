"""An event's cancellation: one workflow per event, id ``event-cancellation-<event id>``,
started by the event's lifecycle workflow once the event is CANCELLED in PostgreSQL.

    1. cancel every open checkout of the event (their cancel update: locks released, payment
       voided); a checkout already paying fails its confirm on the cancelled event and voids
       itself. Sweep again until two sweeps in a row find none running.
    2. refund every CONFIRMED booking and mark it REFUNDED: rounds of ``parallel`` activities
       of ``page_size`` bookings each, the next round read from PostgreSQL (the refunded ones
       have left the CONFIRMED set), until none is left.

Resumable after any crash: the workflow's state is its history, and every activity is
idempotent (a refund is keyed by the booking's checkout). The history stays bounded: one round
is a few events per page, and past ``HISTORY_LIMIT`` events it continues as new with its
counts. ``progress`` (a query) says how far it got.

Deterministic: no I/O, clock or randomness except through ``workflow.*``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.events import (
        EventActivities,
        RefundPage,
        RefundPlan,
        RefundPlanInput,
        SweepInput,
        SweepResult,
    )
    from workflows.event_contract import (
        CANCELLATION_WORKFLOW,
        MEMO_PROGRESS,
        QUERY_PROGRESS,
        CancellationInput,
        CancellationProgress,
    )

# Every step retries until it succeeds: a refund that keeps failing stays visible in the
# Temporal UI as a pending activity with its last error, never skipped.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)
# A worker that dies mid-page is noticed within the heartbeat timeout, and the page is run
# again elsewhere (its refunds already done are replayed by their keys, not repeated).
PAGE_TIMEOUT = timedelta(minutes=5)
HEARTBEAT = timedelta(seconds=10)
SWEEP_PAUSE = timedelta(seconds=1)
HISTORY_LIMIT = 5_000


@workflow.defn(name=CANCELLATION_WORKFLOW)
class EventCancellationWorkflow:
    @workflow.init
    def __init__(self, input: CancellationInput) -> None:
        self._input = input
        self._progress = CancellationProgress(
            event_id=input.event_id,
            reason=input.reason,
            refunded=input.refunded,
            to_refund=input.refunded,
            checkouts_cancelled=input.checkouts_cancelled,
            phase="refunds" if input.checkouts_done else "checkouts",
        )
        self._published: dict[str, Any] | None = None

    @workflow.run
    async def run(self, input: CancellationInput) -> CancellationProgress:
        self._details()
        if not input.checkouts_done:
            await self._cancel_checkouts()
        self._progress.phase = "refunds"
        await self._refund_all()
        self._progress.phase = "done"
        self._progress.done = True
        self._details()
        return self._progress

    async def _cancel_checkouts(self) -> None:
        empty_sweeps = 0
        # Two empty sweeps a second apart: a checkout that started an instant before the
        # cancellation may not be listed yet by the first (visibility is eventually consistent).
        while empty_sweeps < 2:
            self._continue_as_new_if_long()
            sweep: SweepResult = await workflow.execute_activity_method(
                EventActivities.cancel_checkouts,
                SweepInput(self._input.event_id, self._input.reason),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
                summary="Cancel the event's open checkouts",
            )
            self._progress.checkouts_cancelled += sweep.cancelled
            empty_sweeps = empty_sweeps + 1 if sweep.running == 0 else 0
            self._details()
            await workflow.sleep(SWEEP_PAUSE, summary="let paying checkouts finish")

    async def _refund_all(self) -> None:
        size = max(1, self._input.page_size)
        parallel = max(1, self._input.parallel)
        while True:
            self._continue_as_new_if_long()
            plan: RefundPlan = await workflow.execute_activity_method(
                EventActivities.plan_refunds,
                RefundPlanInput(self._input.event_id, size * parallel),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
                summary="Find the next confirmed bookings",
            )
            self._progress.to_refund = self._progress.refunded + plan.confirmed
            self._details()
            if not plan.checkout_ids:
                return
            ids = plan.checkout_ids
            pages = [ids[i : i + size] for i in range(0, len(ids), size)]
            # At most ``parallel`` refund activities at once: the plan holds that many pages.
            done = await asyncio.gather(*(self._refund_page(page) for page in pages))
            self._progress.refunded += sum(done)

    async def _refund_page(self, checkout_ids: list[str]) -> int:
        refunded: int = await workflow.execute_activity_method(
            EventActivities.refund_bookings,
            RefundPage(self._input.event_id, checkout_ids),
            start_to_close_timeout=PAGE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            summary=f"Refund {len(checkout_ids)} booking(s)",
        )
        return refunded

    def _continue_as_new_if_long(self) -> None:
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() > (
            HISTORY_LIMIT
        ):
            workflow.continue_as_new(
                CancellationInput(
                    event_id=self._input.event_id,
                    reason=self._input.reason,
                    page_size=self._input.page_size,
                    parallel=self._input.parallel,
                    checkouts_done=self._progress.phase != "checkouts",
                    checkouts_cancelled=self._progress.checkouts_cancelled,
                    refunded=self._progress.refunded,
                )
            )

    def _details(self) -> None:
        """Shows the progress in the Temporal UI and in the memo, which the API reads with a
        describe: no worker needed to answer it (a query needs one), e.g. while they restart.
        Upserted only when it changed: each upsert is a history event."""
        p = self._progress
        workflow.set_current_details(
            f"{p.phase}: {p.refunded}/{p.to_refund} refunded, "
            f"{p.checkouts_cancelled} checkout(s) cancelled"
        )
        current = dataclasses.asdict(p)
        if current != self._published:
            workflow.upsert_memo({MEMO_PROGRESS: current})
            self._published = current

    @workflow.query(name=QUERY_PROGRESS)
    def progress(self) -> CancellationProgress:
        return self._progress
