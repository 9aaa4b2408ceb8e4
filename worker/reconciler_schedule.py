"""The reconciler's Temporal schedule, created by the worker at start (``python -m worker``).

The worker, because it is the one process every deployment runs wherever the reconciler can
run (the dev stack, the compose replicas, a cluster): the schedule exists as soon as something
can execute it, without a separate setup step that a deployment could skip. Several workers
starting at once are fine: creating an existing schedule is refused and left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from activities.reconciler import ReconcileInput
from config.settings import Settings
from workflows.contract import CheckoutInput
from workflows.reconciler import RECONCILER_WORKFLOW

# The forward steps' bound per checkout (workflows/checkout.py): authorize, confirm and capture,
# each at most STEP_DEADLINE (60 s).
FORWARD_STEPS_SECONDS = 3 * 60


def schedule_id(settings: Settings) -> str:
    """One schedule per task queue: the checkouts it repairs are that queue's, and test runs
    (each on a queue of its own) sharing a Temporal server keep out of each other's way."""
    return f"reconciler-{settings.task_queue}"


def reconcile_input(settings: Settings) -> ReconcileInput:
    """A checkout's longest life: its first hold waits one hold length, the hold lasts
    ``1 + max_hold_extensions`` of them, then the payment grace and the forward steps."""
    longest_life = (
        settings.hold_seconds * (settings.max_hold_extensions + 2)
        + CheckoutInput.payment_grace_seconds
        + FORWARD_STEPS_SECONDS
    )
    return ReconcileInput(
        grace_seconds=settings.reconciler_grace_seconds,
        stuck_after_seconds=longest_life + settings.reconciler_grace_seconds,
        terminate_after_seconds=settings.reconciler_terminate_after_seconds,
        checkout_task_queue=settings.task_queue,
    )


def reconciler_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILER_WORKFLOW,
            reconcile_input(settings),
            id=f"{schedule_id(settings)}-run",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.reconciler_interval_seconds))
            ]
        ),
        # A slow run is never overlapped by the next tick: two runs would repair the same items.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> bool:
    """Creates the schedule unless it exists; True if this call created it."""
    try:
        await client.create_schedule(schedule_id(settings), reconciler_schedule(settings))
    except ScheduleAlreadyRunningError:
        return False
    return True
