"""The reconciler: one run per tick of its Temporal schedule (``worker/reconciler_schedule.py``),
applying the rules of ``activities/reconciler.py`` in order and returning what it did.

The stuck checkouts go first: one it terminates has its payment and booking compensated by the
later steps of the same run. A step that fails is retried a few times; past that the run fails
(visible in the Temporal UI), and the next tick starts over (every step is idempotent).

Deterministic: no I/O, clock or randomness except through ``workflow.*``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconciler import ReconcileInput, ReconcilerActivities, ReconcileResult

RECONCILER_WORKFLOW = "ReconcilerWorkflow"
STEP_TIMEOUT = timedelta(minutes=5)
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)


@workflow.defn(name=RECONCILER_WORKFLOW)
class ReconcilerWorkflow:
    @workflow.run
    async def run(self, request: ReconcileInput) -> ReconcileResult:
        total = ReconcileResult()
        for step in (
            ReconcilerActivities.reconcile_stuck_checkouts,
            ReconcilerActivities.refund_orphan_captures,
            ReconcilerActivities.void_orphan_authorizations,
            ReconcilerActivities.repair_unpaid_bookings,
        ):
            done = await workflow.execute_activity_method(
                step, request, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
            )
            total = total.plus(done)
        return total
