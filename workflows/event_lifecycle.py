"""An event's lifecycle: one durable workflow per event, id ``event-<event id>``.

    load the event ──► wait for the next date, or a command (update), or a refresh (signal)
        SCHEDULED: a timer at onSaleAt ──► open_sale (ON_SALE, or SOLD_OUT with nothing sellable)
        any other live status: a timer at eventDate ──► complete (COMPLETED)
        publish / pause / resume / cancel ──► the transition in PostgreSQL (activity)
        cancel ──► starts the cancellation workflow (``event-cancellation-<id>``), which outlives
                   this one
    until the event is CANCELLED or COMPLETED.

PostgreSQL is the authority on the status: bookings flip ON_SALE <-> SOLD_OUT without telling
this workflow, and every transition is a conditional UPDATE applying ``domain.event_lifecycle``
to the row it locked. The workflow's copy serves the validators, which refuse at once what no
booking can change (publishing a published event, resuming one that is not paused, cancelling
twice); the activity refuses the rest. Timers are workflow timers: they survive a worker and a
server restart. The API starts the workflow with its first command (update-with-start), so
events created without one (the seed) work too. Long-lived events continue as new before their
history grows large (each pause/resume adds a dozen events).

Deterministic: no I/O, clock or randomness except through ``workflow.*``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.events import CommandInput, CommandResult, EventActivities
    from domain import event_lifecycle as rules
    from domain.errors import DomainError, ErrorCode
    from workflows.contract import SA_EVENT_ID
    from workflows.event_cancellation import EventCancellationWorkflow
    from workflows.event_contract import (
        QUERY_EVENT,
        SIGNAL_REFRESH,
        UPDATE_CANCEL_EVENT,
        UPDATE_PAUSE,
        UPDATE_PUBLISH,
        UPDATE_RESUME,
        CancellationInput,
        EventCommand,
        EventSnapshot,
        LifecycleInput,
        cancellation_id,
    )

# Transport failures retry until PostgreSQL answers; refusals (INVALID_STATE, NOT_FOUND) are
# non-retryable and come back at once.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
STEP_TIMEOUT = timedelta(seconds=15)
# Well below Temporal's 50k-event limit and its 10k warning.
HISTORY_LIMIT = 2_000
# A timer's command that changed nothing is not retried sooner than this (e.g. clock skew
# between the worker and PostgreSQL): no busy loop.
MIN_REARM = timedelta(seconds=1)


def _refusal(exc: BaseException) -> ApplicationError | None:
    """The activity's business refusal, as the update's own failure."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type in ErrorCode.__members__:
            return ApplicationError(cause.message, type=cause.type, non_retryable=True)
        cause = cause.__cause__
    return None


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@workflow.defn(name="EventLifecycleWorkflow")
class EventLifecycleWorkflow:
    @workflow.init
    def __init__(self, input: LifecycleInput) -> None:
        self._event_id = input.event_id
        self._hint = input.status_hint
        self._event: EventSnapshot | None = None
        self._loaded = False
        self._changed = False  # a command or a refresh changed what the timer waits for
        self._refresh = False
        # Timer commands and updates never interleave.
        self._mutex = asyncio.Lock()

    @workflow.run
    async def run(self, input: LifecycleInput) -> EventSnapshot | None:
        async with self._mutex:
            await self._load()
        while self._event is not None and not rules.is_final(self._event.status):
            if self._history_is_long():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._mutex.locked()
                )
                workflow.continue_as_new(LifecycleInput(self._event_id, self._event.status))
            command, due = self._next_date(self._event)
            self._describe(command, due)
            self._changed = False
            wait = due - workflow.now().timestamp()
            if wait > 0:
                try:
                    await workflow.wait_condition(
                        lambda: self._changed or self._refresh,
                        timeout=timedelta(seconds=wait),
                        timeout_summary=f"{command} at {_iso(due)}",
                    )
                    if self._refresh:
                        self._refresh = False
                        async with self._mutex:
                            await self._load()
                    continue  # re-arm from the new state
                except TimeoutError:
                    pass
            async with self._mutex:
                if self._changed:
                    continue  # a command landed first: its state decides what comes next
                result = await self._apply(command)
            if not result.changed:
                await workflow.sleep(MIN_REARM)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._event is not None:
            workflow.set_current_details(f"{self._event.status}")
        return self._event

    # --- the steps ---

    async def _load(self) -> None:
        self._event = await workflow.execute_activity_method(
            EventActivities.load,
            self._event_id,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
            summary="Read the event",
        )
        self._loaded = True
        self._changed = True

    async def _apply(self, command: str, reason: str | None = None) -> CommandResult:
        result: CommandResult = await workflow.execute_activity_method(
            EventActivities.apply,
            CommandInput(self._event_id, command, int(workflow.now().timestamp()), reason),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
            summary=f"{command} in PostgreSQL",
        )
        self._event = result.event
        self._changed = True
        return result

    @staticmethod
    def _next_date(event: EventSnapshot) -> tuple[str, int]:
        if (
            event.status == "SCHEDULED"
            and event.on_sale_at is not None
            and event.on_sale_at < event.event_date
        ):
            return "open_sale", event.on_sale_at
        return "complete", event.event_date

    def _describe(self, command: str, due: int) -> None:
        status = self._event.status if self._event else "?"
        workflow.set_current_details(f"{status}; next: {command} at {_iso(due)}")

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or (
            info.get_current_history_length() > HISTORY_LIMIT
        )

    # --- the commands (updates) ---

    async def _command(self, command: str, reason: str | None = None) -> EventSnapshot:
        await workflow.wait_condition(lambda: self._loaded)
        async with self._mutex:
            if self._event is None:
                raise ApplicationError(
                    "event not found", type=ErrorCode.NOT_FOUND.value, non_retryable=True
                )
            try:
                await self._apply(command, reason)
            except ActivityError as exc:
                refusal = _refusal(exc)
                if refusal is None:
                    raise
                raise refusal from None
            if command == "cancel":
                await self._start_cancellation(reason or "")
        assert self._event is not None
        return self._event

    async def _start_cancellation(self, reason: str) -> None:
        """Refunds take long: the cancellation is its own workflow, left running when this one
        ends (``ABANDON``). The status is CANCELLED before it starts, so no hold gets in."""
        try:
            await workflow.start_child_workflow(
                EventCancellationWorkflow.run,
                CancellationInput(self._event_id, reason),
                id=cancellation_id(self._event_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(SA_EVENT_ID, self._event_id)]
                ),
                static_summary=f"Cancel event {self._event_id}: refund every booking",
            )
        except WorkflowAlreadyStartedError:
            pass  # started by an earlier run of this lifecycle: that one is the cancellation

    def _validate(self, rule: Callable[[str], object]) -> None:
        """Refuses at once from the workflow's copy of the status (or the starter's hint).

        Bookings only flip ON_SALE <-> SOLD_OUT behind its back, and every rule answers those
        two alike, so a refusal here is the refusal PostgreSQL would give."""
        status = self._event.status if self._event else self._hint
        if self._loaded and self._event is None:
            raise ApplicationError(
                "event not found", type=ErrorCode.NOT_FOUND.value, non_retryable=True
            )
        if status is None:
            return
        try:
            rule(status)
        except DomainError as exc:
            raise ApplicationError(exc.message, type=exc.code.value, non_retryable=True) from None

    @workflow.update(name=UPDATE_PUBLISH)
    async def publish(self, request: EventCommand) -> EventSnapshot:
        return await self._command("publish")

    @publish.validator
    def _validate_publish(self, request: EventCommand) -> None:
        self._validate(lambda s: rules.publish(s, None, workflow.now()))

    @workflow.update(name=UPDATE_PAUSE)
    async def pause(self, request: EventCommand) -> EventSnapshot:
        return await self._command("pause")

    @pause.validator
    def _validate_pause(self, request: EventCommand) -> None:
        self._validate(rules.pause)

    @workflow.update(name=UPDATE_RESUME)
    async def resume(self, request: EventCommand) -> EventSnapshot:
        return await self._command("resume")

    @resume.validator
    def _validate_resume(self, request: EventCommand) -> None:
        self._validate(lambda s: rules.resume(s, None, workflow.now(), seats_left=True))

    @workflow.update(name=UPDATE_CANCEL_EVENT)
    async def cancel(self, request: EventCommand) -> EventSnapshot:
        return await self._command("cancel", request.reason)

    @cancel.validator
    def _validate_cancel(self, request: EventCommand) -> None:
        if not request.reason.strip():
            raise ApplicationError(
                "a reason is required", type=ErrorCode.INVALID_INPUT.value, non_retryable=True
            )
        self._validate(rules.cancel)

    @workflow.signal(name=SIGNAL_REFRESH)
    def refresh(self) -> None:
        self._refresh = True

    @workflow.query(name=QUERY_EVENT)
    def event(self) -> EventSnapshot | None:
        return self._event
