"""Talks to the event lifecycle and cancellation workflows on behalf of the API.

Each command is an update-with-start on ``event-<id>``: the workflow starts on the event's first
command (so events that never had one, like the seed's, work too) and runs the update in the
same round trip. Like ``adapters/checkout_client.py``, an update the server aborts or does not
admit yet is sent again under the same update id (applied at most once), then answered
TRY_AGAIN; a refusal comes back as ``DomainError`` with the workflow's code.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from adapters.checkout_client import retryable_rpc, update_refusal
from domain.errors import DomainError, ErrorCode
from workflows.contract import SA_EVENT_ID
from workflows.event_contract import (
    LIFECYCLE_WORKFLOW,
    MEMO_PROGRESS,
    QUERY_PROGRESS,
    SIGNAL_REFRESH,
    UPDATE_CANCEL_EVENT,
    UPDATE_PAUSE,
    UPDATE_PUBLISH,
    UPDATE_RESUME,
    CancellationProgress,
    EventCommand,
    EventSnapshot,
    LifecycleInput,
    cancellation_id,
    lifecycle_id,
)


class EventClient:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        retry_delays: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6, 3.2),
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._retry_delays = retry_delays

    async def publish(self, event_id: str, status: str | None = None) -> EventSnapshot:
        return await self._command(event_id, UPDATE_PUBLISH, EventCommand(), status)

    async def pause(self, event_id: str, status: str | None = None) -> EventSnapshot:
        return await self._command(event_id, UPDATE_PAUSE, EventCommand(), status)

    async def resume(self, event_id: str, status: str | None = None) -> EventSnapshot:
        return await self._command(event_id, UPDATE_RESUME, EventCommand(), status)

    async def cancel(self, event_id: str, reason: str, status: str | None = None) -> EventSnapshot:
        return await self._command(event_id, UPDATE_CANCEL_EVENT, EventCommand(reason), status)

    async def refresh(self, event_id: str) -> None:
        """The event's dates changed (updateEvent): its lifecycle re-reads them and re-arms
        its timers. Starts the lifecycle if it has none yet."""
        await self._client.start_workflow(
            LIFECYCLE_WORKFLOW,
            LifecycleInput(event_id),
            id=lifecycle_id(event_id),
            task_queue=self._task_queue,
            start_signal=SIGNAL_REFRESH,
            search_attributes=_attributes(event_id),
            static_summary=_summary(event_id),
        )

    async def cancellation(self, event_id: str) -> CancellationProgress | None:
        """How far the event's cancellation got; None if it was never started.

        Read from the workflow's memo (a describe), which the server answers even while no
        worker runs; only before the workflow's first task is there none, and a query asks."""
        handle = self._client.get_workflow_handle(cancellation_id(event_id))
        try:
            described = await handle.describe()
            progress: CancellationProgress | None = await described.memo_value(
                MEMO_PROGRESS, None, type_hint=CancellationProgress
            )
            if progress is None:
                progress = await handle.query(QUERY_PROGRESS, result_type=CancellationProgress)
            return progress
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    async def _command(
        self, event_id: str, name: str, request: EventCommand, status: str | None
    ) -> EventSnapshot:
        update_id = f"{name}-{uuid.uuid4()}"
        failure: Exception | None = None
        for delay in (*self._retry_delays, None):
            try:
                return await self._command_once(event_id, name, request, status, update_id)
            except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
                if not isinstance(exc.__cause__, RPCError):
                    raise  # this call itself was cancelled: nobody waits for an answer
                failure = exc
            except RPCError as exc:
                if not retryable_rpc(exc):
                    raise
                failure = exc
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise DomainError(
            ErrorCode.TRY_AGAIN, "the event's lifecycle is busy; try again in a few seconds"
        ) from failure

    async def _command_once(
        self, event_id: str, name: str, request: EventCommand, status: str | None, update_id: str
    ) -> EventSnapshot:
        start = WithStartWorkflowOperation(
            LIFECYCLE_WORKFLOW,
            LifecycleInput(event_id, status_hint=status),
            id=lifecycle_id(event_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A finished lifecycle (cancelled or completed event) starts again only to refuse:
            # its first load finds the final status.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=_attributes(event_id),
            static_summary=_summary(event_id),
        )
        try:
            handle = await self._client.start_update_with_start_workflow(
                name,
                request,
                start_workflow_operation=start,
                wait_for_stage=WorkflowUpdateStage.COMPLETED,
                id=update_id,
                result_type=EventSnapshot,
            )
            result: EventSnapshot = await handle.result()
            return result
        except WorkflowUpdateFailedError as exc:
            raise update_refusal(exc) from exc


def _attributes(event_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(SA_EVENT_ID, event_id)])


def _summary(event_id: str) -> str:
    return f"Lifecycle of event {event_id}"
