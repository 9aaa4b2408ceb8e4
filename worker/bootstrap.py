"""The composition root: the one place where settings meet real adapters."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from temporalio.client import Client
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.checkout import CheckoutActivities
from adapters.bookings import PostgresBookingStore
from adapters.claimed_seat_locks import ClaimedSeatLocks
from adapters.db import make_engine
from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.inventory import PostgresCatalog
from adapters.payments import TOKEN_APPROVE, SandboxPayments
from adapters.seat_claims import SeatClaimRecorder
from adapters.seat_locks import DynamoSeatLocks
from adapters.seatmap_cache import RedisSeatMapEvents
from config.settings import Settings
from workflows.checkout import CheckoutWorkflow


@dataclass
class Resources:
    activities: CheckoutActivities
    closers: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def build_activities(settings: Settings) -> Resources:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (start the stack with `make dev`)")
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    dynamodb = make_client(
        settings.dynamodb_endpoint,
        region=settings.aws_region,
        access_key=settings.aws_access_key_id,
        secret_key=settings.aws_secret_access_key,
        max_attempts=settings.dynamodb_max_attempts,
        max_pool_connections=activity_threads(settings),
    )
    ensure_seat_lock_table(dynamodb, settings.seat_lock_table)
    cache = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
    activities = CheckoutActivities(
        locks=ClaimedSeatLocks(
            DynamoSeatLocks(dynamodb, settings.seat_lock_table),
            SeatClaimRecorder(cache, settings.redis_prefix),
        ),
        catalog=PostgresCatalog(engine),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine),
        seat_map=RedisSeatMapEvents(cache, settings.redis_prefix),
        default_payment_token=TOKEN_APPROVE if settings.payment_processor == "sandbox" else None,
    )
    return Resources(activities, closers=[engine.dispose, cache.close])


def build_worker(
    settings: Settings, client: Client, activities: CheckoutActivities | None = None
) -> Worker:
    """A worker on the settings' task queue; pass ``activities`` to inject fakes in tests."""
    if activities is None:
        activities = build_activities(settings).activities
    return Worker(
        client,
        graceful_shutdown_timeout=timedelta(seconds=20),
        task_queue=settings.task_queue,
        workflows=[CheckoutWorkflow],
        workflow_runner=workflow_runner(settings),
        activities=activities.all(),
        # one thread per activity slot, local or not (see config/settings.py)
        activity_executor=ThreadPoolExecutor(max_workers=activity_threads(settings)),
        max_concurrent_activities=_activity_slots(settings),
        max_concurrent_local_activities=_local_activity_slots(settings),
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_task_poller_behavior=_pollers(settings),
        activity_task_poller_behavior=_pollers(settings),
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """Outside the sandbox unless the settings ask for it (``worker_workflow_sandbox``)."""
    if not settings.worker_workflow_sandbox:
        return UnsandboxedWorkflowRunner()
    # Our own modules hold no mutable module state, so the sandbox may share them instead of
    # re-importing (recompiling) the workflow module for every new checkout: that was 15% of
    # the worker's GIL time in a profile of 20 concurrent checkouts. The sandbox's runtime
    # guards on non-deterministic calls still apply.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "workflows", "activities", "domain"
        )
    )


def _activity_slots(settings: Settings) -> int:
    return min(settings.worker_max_concurrent_activities, settings.worker_activity_threads)


def _local_activity_slots(settings: Settings) -> int:
    return min(settings.worker_max_concurrent_local_activities, settings.worker_activity_threads)


def activity_threads(settings: Settings) -> int:
    """Threads of the activity executor: activities and local activities share it."""
    return _activity_slots(settings) + _local_activity_slots(settings)


def _pollers(settings: Settings) -> PollerBehavior:
    """A fixed number of pollers (20 by default), or scaled by the SDK when configured as 0.

    With the SDK's default of 5 pollers per queue (only one of them on the shared queue, where
    each new checkout's first task waits), a 10,000-buyer sale measured Temporal's
    workflow-task schedule-to-start at 1,163 ms on average; 20 fixed pollers gave 584 ms,
    scaling 229 ms (``python -m bench --sections flash``, ``temporal_worker_metrics``). But the
    more polls wait at the server, the more tasks are sync-matched, and the dev server loses
    those whenever History is slow (``config/settings.py``, ``docs/design-notes.md``).
    """
    if settings.worker_task_pollers > 0:
        return PollerBehaviorSimpleMaximum(maximum=settings.worker_task_pollers)
    return PollerBehaviorAutoscaling(maximum=settings.worker_max_pollers)
