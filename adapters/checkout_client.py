"""Talks to checkout workflows on behalf of the API and the benchmark.

Translates Temporal's failures back into the domain's codes, so callers only ever see
``DomainError`` (a business answer) or an exception (a bug or an outage).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
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
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.checkout import CheckoutStatus
from domain.errors import DomainError, ErrorCode
from workflows.contract import (
    QUERY_STATE,
    SA_EVENT_ID,
    SA_STATUS,
    SA_USER_ID,
    UPDATE_CANCEL,
    UPDATE_EXTEND_HOLD,
    UPDATE_HOLD_SEATS,
    UPDATE_SUBMIT_PAYMENT,
    WORKFLOW_NAME,
    CancelRequest,
    CheckoutInput,
    CheckoutState,
    ExtendHoldRequest,
    HoldSeatsRequest,
    HoldSeatsResult,
    SubmitPaymentRequest,
    workflow_id,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Runs a call to the saga while the backends it needs answer (the API's backend watch,
# api/backend_watch.py): raises DomainError TRY_AGAIN at once when one is down, and cancels
# the call and raises it when one goes down while the call waits.
Guard = Callable[[Awaitable[Any]], Awaitable[Any]]


async def _unguarded(call: Awaitable[T]) -> T:
    return await call


async def _cancellation_kept(call: Awaitable[T]) -> T:
    """``call``, with a cancellation of ours raised as the CancelledError it is.

    The SDK turns the cancellation of an update's call into WorkflowUpdateRPCTimeoutOrCancelled
    Error (from the CancelledError). Passed on as that, a deadline of ours or the backend
    watch's cancel would reach the resolver as an error it does not know (an
    INTERNAL_SERVER_ERROR) and skip the clean-up that cancellation gets (the checkout
    abandoned, the caller's deadline noticing it expired)."""
    try:
        return await call
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        if isinstance(exc.__cause__, asyncio.CancelledError):
            raise asyncio.CancelledError from exc
        raise


class UpdateNotApplied(DomainError):
    """An update the workflow did not apply (the server rejected it as unprocessed when its
    workflow task was lost under load, or the SDK failed that task): TRY_AGAIN.

    Its handler may still have begun in the lost task: a hold's local activity may have
    locked seats under the checkout's id that the workflow does not know it holds. So a hold
    is sent again (``CheckoutClient``): the workflow then either takes those seats or, refused,
    releases them, and a hold answered TRY_AGAIN leaves no lock of its own behind."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.TRY_AGAIN, "the request could not be carried out now; try again")


def update_refusal(exc: WorkflowUpdateFailedError) -> DomainError:
    """What a failed update tells its caller: the DomainError a workflow or activity raised,
    from the ApplicationError that carried it (the event client reads updates' refusals the
    same way). Any other failure did not apply the update (``UpdateNotApplied``), so the
    caller may ask again: TRY_AGAIN, never an internal error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type in ErrorCode.__members__:
            details = cause.details[0] if cause.details else {}
            return DomainError(
                ErrorCode(cause.type),
                cause.message,
                **(details if isinstance(details, dict) else {}),
            )
        cause = cause.__cause__
    log.warning("update failed without a refusal of ours; not applied", exc_info=exc)
    return UpdateNotApplied()


class CheckoutClient:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        hold_seconds: int = 300,
        max_extensions: int = 2,
        max_seats: int = 10,
        retry_delays: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6, 3.2),
        task_timeout: timedelta = timedelta(seconds=10),
        call_seconds: float | None = None,
        payment_guard: Guard = _unguarded,
        call_guard: Guard = _unguarded,
    ) -> None:
        """``call_seconds``: how long a hold, an update or a query may wait for Temporal in
        all (its retries included) before it is answered TRY_AGAIN; None: no bound (the
        benchmark's and the tests' own drivers). A backstop, far above a busy server's
        answer: an outage is told by the guards. A payment the server accepted is waited for
        to its outcome (see ``submit_payment``).

        ``payment_guard`` runs a payment to its outcome, ``call_guard`` a checkout's state,
        extension and cancel (see ``Guard``). Holds are guarded by their caller
        (api/hold.py), whose guard covers the admission line as well."""
        self._client = client
        self._call_seconds = call_seconds
        self._payment_guard = payment_guard
        self._call_guard = call_guard
        # cancels of checkouts whose first hold was answered TRY_AGAIN (kept: tasks are weak)
        self._abandoning: set[asyncio.Task[None]] = set()
        self._retry_delays = retry_delays
        self._task_timeout = task_timeout
        self._task_queue = task_queue
        self._hold_seconds = hold_seconds
        self._max_extensions = max_extensions
        self._max_seats = max_seats
        # checkout id -> its run, as the hold that started it learned (least recent first)
        self._run_ids: OrderedDict[str, str] = OrderedDict()

    def _handle(self, checkout_id: str) -> WorkflowHandle[Any, Any]:
        """The checkout's workflow, naming its run when this client started it.

        A checkout id has exactly one run (ids are never reused and checkouts never continue
        as new), so the run id cannot go stale. Named, it saves the server a lookup of the
        current run on every payment, cancel and query: the dev server's most expensive
        database call in a sale (`docs/measurements.md`).
        """
        return self._client.get_workflow_handle(
            workflow_id(checkout_id), run_id=self._run_ids.get(checkout_id)
        )

    def _remember_run(self, checkout_id: str, run_id: str | None) -> None:
        if not run_id:
            return
        self._run_ids[checkout_id] = run_id
        self._run_ids.move_to_end(checkout_id)
        while len(self._run_ids) > RUN_IDS_KEPT:
            self._run_ids.popitem(last=False)

    async def _bounded(self, call: Awaitable[T]) -> T:
        """``call`` within ``call_seconds``, else DomainError TRY_AGAIN. So is an update
        whose call the server cut short (its own deadline): the buyer sends it again."""
        deadline = asyncio.timeout(self._call_seconds)
        try:
            async with deadline:
                return await _cancellation_kept(call)
        except TimeoutError:
            if not deadline.expired():
                raise  # a socket's, not ours
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            pass
        raise DomainError(
            ErrorCode.TRY_AGAIN,
            "the checkout service did not answer in time; try again in a few seconds",
        ) from None

    async def _update(
        self,
        checkout_id: str,
        name: str,
        arg: Any,
        result_type: type,
        user_id: str | None = None,
        outcome_after_accepted: bool = False,
    ) -> Any:
        """Runs the update; with ``user_id``, a checkout of another user is NOT_FOUND.

        Bounded by ``call_seconds``; with ``outcome_after_accepted`` only until the workflow
        accepted it, then its result is waited for however long the workflow takes, all of
        it while the backends its steps need answer (``payment_guard``)."""
        handle = self._handle(checkout_id)
        try:
            if not outcome_after_accepted:
                return await self._call_guard(
                    self._bounded(handle.execute_update(name, arg, result_type=result_type))
                )

            async def to_its_outcome() -> Any:
                update = await self._bounded(
                    handle.start_update(
                        name,
                        arg,
                        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                        result_type=result_type,
                    )
                )
                return await _cancellation_kept(update.result())

            return await self._payment_guard(to_its_outcome())
        except WorkflowUpdateFailedError as exc:
            raise update_refusal(exc) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and await self._exists(checkout_id, user_id):
                raise DomainError(
                    ErrorCode.CHECKOUT_CLOSED, "this checkout has already finished"
                ) from exc
            raise _rpc_to_domain(exc, checkout_id) from exc

    async def _exists(self, checkout_id: str, user_id: str | None = None) -> bool:
        """Whether the checkout exists (and, with ``user_id``, belongs to that user)."""
        try:
            described = await self._handle(checkout_id).describe()
        except RPCError:
            return False
        return user_id is None or described.typed_search_attributes.get(SA_USER_ID) == user_id

    async def start_and_hold(
        self,
        checkout_id: str,
        user_id: str,
        event_id: str,
        seat_ids: list[str],
        opens: bool = True,
    ) -> HoldSeatsResult:
        """Starts the checkout and holds its first seats in one round trip (update-with-start).

        Calling it again with the same checkout id adds the seats to that open checkout: pass
        ``opens=False`` then, so that a hold answered TRY_AGAIN leaves the checkout and the
        seats it held before as they were (a new checkout is cancelled instead, below).

        An update the server aborts (its workflow task was lost or timed out, which a
        saturated server does) or does not admit yet (the workflow's last task failed, e.g.
        timed out, and is being retried) is sent again under the same update id, so it
        applies at most once, after each of ``retry_delays`` (6 s in all by default: a
        timed-out task is retried by the server once a worker picks it up again). Then the
        caller gets DomainError TRY_AGAIN. One the workflow did not apply (``UpdateNotApplied``)
        is sent again too, under a new id.

        So is an update whose call ran out of time at the server ("context deadline
        exceeded"): when the dev server loses the new checkout's first workflow task, the
        update waits out the task timeout, longer than the server waits for it. Sent again
        under its id, it attaches to the same checkout and answers once the task has run;
        answered with an error instead, the buyer would be told the hold failed while it
        went through.
        """
        try:
            return await self._bounded(
                self._start_and_hold_retried(checkout_id, user_id, event_id, seat_ids)
            )
        except DomainError as exc:
            if exc.code == ErrorCode.TRY_AGAIN and opens:
                # The server may have the start and run the hold once its backends answer:
                # the checkout is cancelled, so nothing stays held by a hold refused here.
                self._abandon(checkout_id)
            raise
        except asyncio.CancelledError:
            # Cut short by the caller (the backend watch, a request's cap): the same.
            if opens:
                self._abandon(checkout_id)
            raise

    def _abandon(self, checkout_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._cancel_abandoned(checkout_id))
        self._abandoning.add(task)
        task.add_done_callback(self._abandoning.discard)

    async def _cancel_abandoned(self, checkout_id: str) -> None:
        """Cancels the checkout, retrying while Temporal does not answer, for a bounded time.

        Ends when the checkout is cancelled or closed, or when the server has said for
        ``ABANDON_NOT_FOUND_SECONDS`` that it never started (a start still in flight when its
        caller gave up lands within that)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + ABANDON_SECONDS
        not_found_since: float | None = None
        delay = 0.5
        while loop.time() < give_up:
            try:
                # A cancellation of this task (the process shutting down) ends it; the SDK's
                # own error for it would read as "the server is away: try again".
                await _cancellation_kept(
                    self._handle(checkout_id).execute_update(
                        UPDATE_CANCEL, CancelRequest("the first hold was not answered in time")
                    )
                )
                return
            except WorkflowUpdateFailedError:
                return  # refused: the checkout is already closing or closed
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    not_found_since = not_found_since or loop.time()
                    if loop.time() - not_found_since >= ABANDON_NOT_FOUND_SECONDS:
                        return
                else:
                    not_found_since = None
            except Exception:  # noqa: BLE001 - the server is away: try again
                not_found_since = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _start_and_hold_retried(
        self,
        checkout_id: str,
        user_id: str,
        event_id: str,
        seat_ids: list[str],
    ) -> HoldSeatsResult:
        update_id = f"hold-{uuid.uuid4()}"
        for delay in (*self._retry_delays, None):
            try:
                return await self._start_and_hold_once(
                    checkout_id, user_id, event_id, seat_ids, update_id
                )
            except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
                if not isinstance(exc.__cause__, RPCError):
                    # this call itself was cancelled: nobody waits for an answer
                    raise asyncio.CancelledError from exc
                failure: Exception = exc
            except RPCError as exc:
                if not retryable_rpc(exc):
                    raise _rpc_to_domain(exc, checkout_id) from exc
                failure = exc
            except UpdateNotApplied as exc:
                failure = exc
                # Rejected, it was never applied: a new request, under an id of its own.
                update_id = f"hold-{uuid.uuid4()}"
            if delay is None:
                raise DomainError(
                    ErrorCode.TRY_AGAIN,
                    "the checkout service is busy; try again in a few seconds",
                ) from failure
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _start_and_hold_once(
        self,
        checkout_id: str,
        user_id: str,
        event_id: str,
        seat_ids: list[str],
        update_id: str,
    ) -> HoldSeatsResult:
        start = WithStartWorkflowOperation(
            WORKFLOW_NAME,
            CheckoutInput(
                checkout_id=checkout_id,
                user_id=user_id,
                event_id=event_id,
                hold_seconds=self._hold_seconds,
                max_extensions=self._max_extensions,
                max_seats=self._max_seats,
            ),
            id=workflow_id(checkout_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A closed checkout is never revived under the same id: its booking is keyed by it.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SA_STATUS, CheckoutStatus.OPEN.value),
                    SearchAttributePair(SA_EVENT_ID, event_id),
                    SearchAttributePair(SA_USER_ID, user_id),
                ]
            ),
            static_summary=f"Checkout of {len(seat_ids)} seat(s), event {event_id}",
            # No execution timeout: it would cut a compensation that retries until done. The
            # workflow bounds its own forward steps (workflows/checkout.py), and the reconciler
            # terminates and repairs a checkout stuck past its longest life.
            task_timeout=self._task_timeout,
        )
        try:
            handle = await self._client.start_update_with_start_workflow(
                UPDATE_HOLD_SEATS,
                HoldSeatsRequest(seat_ids=list(seat_ids)),
                start_workflow_operation=start,
                wait_for_stage=WorkflowUpdateStage.COMPLETED,
                id=update_id,
                result_type=HoldSeatsResult,
            )
            self._remember_run(checkout_id, handle.workflow_run_id)
            return await handle.result()
        except WorkflowUpdateFailedError as exc:
            raise update_refusal(exc) from exc
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise  # start_and_hold retries the transient ones
        except Exception as exc:  # WorkflowAlreadyStartedError on a closed id, among others
            if type(exc).__name__ == "WorkflowAlreadyStartedError":
                raise DomainError(
                    ErrorCode.CHECKOUT_CLOSED, "this checkout has already finished"
                ) from exc
            raise

    async def hold(self, checkout_id: str, seat_ids: list[str]) -> HoldSeatsResult:
        """Adds seats to the open checkout; one the workflow did not apply is sent again
        after each of ``retry_delays`` (see ``UpdateNotApplied``), then TRY_AGAIN."""
        request = HoldSeatsRequest(seat_ids=list(seat_ids))
        for delay in self._retry_delays:
            try:
                return await self._update(checkout_id, UPDATE_HOLD_SEATS, request, HoldSeatsResult)
            except UpdateNotApplied:
                await asyncio.sleep(delay)
        return await self._update(checkout_id, UPDATE_HOLD_SEATS, request, HoldSeatsResult)

    async def submit_payment(
        self,
        checkout_id: str,
        payment_token: str | None,
        seat_ids: list[str] | None = None,
        user_id: str | None = None,
    ) -> CheckoutState:
        """Pays and waits for the terminal state. With ``user_id``, the workflow itself checks
        that the payer owns the checkout (NOT_FOUND otherwise), so no query is needed first.

        A payment is waited for to its outcome, however slow, unless a backend the saga's
        steps need is down or goes down meanwhile: then DomainError TRY_AGAIN says so
        (api/backend_watch.py::payment_under_way) while the saga goes on with it if it took
        it (a payment sent again meanwhile is refused CHECKOUT_CLOSED, naming its status)."""
        request = SubmitPaymentRequest(
            payment_token=payment_token, seat_ids=seat_ids, user_id=user_id
        )
        return await self._update(
            checkout_id,
            UPDATE_SUBMIT_PAYMENT,
            request,
            CheckoutState,
            user_id,
            # Once accepted, the payment is under way: its answer is the outcome (or, in an
            # outage, TRY_AGAIN "it may be under way": the checkout's state tells which).
            outcome_after_accepted=True,
        )

    async def extend(self, checkout_id: str) -> CheckoutState:
        return await self._update(
            checkout_id, UPDATE_EXTEND_HOLD, ExtendHoldRequest(), CheckoutState
        )

    async def cancel(self, checkout_id: str, reason: str = "buyer cancelled") -> CheckoutState:
        return await self._update(checkout_id, UPDATE_CANCEL, CancelRequest(reason), CheckoutState)

    async def state(self, checkout_id: str) -> CheckoutState:
        """Works on running and on finished checkouts. Unknown id: DomainError NOT_FOUND.

        A query waits for the checkout's worker. When it does not answer in time (a server
        that lost the checkout's workflow task waits out the task timeout), the read is
        refused as TRY_AGAIN, not passed on as an internal error: reading again is safe.
        """
        try:
            return await self._call_guard(
                self._bounded(
                    self._handle(checkout_id).query(QUERY_STATE, result_type=CheckoutState)
                )
            )
        except RPCError as exc:
            if exc.status in _UNANSWERED:
                raise DomainError(
                    ErrorCode.TRY_AGAIN, "the checkout did not answer in time; read it again"
                ) from exc
            raise _rpc_to_domain(exc, checkout_id) from exc

    async def result(self, checkout_id: str) -> CheckoutState:
        handle = self._client.get_workflow_handle(
            workflow_id(checkout_id), result_type=CheckoutState
        )
        return await handle.result()


# Run ids kept per client: about 100 bytes each, far more than the checkouts open at once.
RUN_IDS_KEPT = 100_000
# How long an abandoned checkout's cancel is retried while Temporal does not answer (longer
# than any outage a hold should ride out; past it the hold's expiry still ends the checkout),
# and how long the server must say NOT_FOUND before the start is taken as never made.
ABANDON_SECONDS = 600.0
ABANDON_NOT_FOUND_SECONDS = 10.0
# A call that ran out of time (the client's "Timeout expired" is CANCELLED) or was turned away.
_UNANSWERED = frozenset(
    {
        RPCStatusCode.CANCELLED,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
    }
)
# "workflow update was aborted" and a server that is briefly unreachable
_RETRYABLE = frozenset({RPCStatusCode.ABORTED, RPCStatusCode.UNAVAILABLE})
# The server's WorkflowNotReady; FAILED_PRECONDITION alone also means errors that stay.
_TASK_FAILED = "Workflow Task in failed state"


def retryable_rpc(exc: RPCError) -> bool:
    """An update or start the server refused for now; the same call may succeed again."""
    if exc.status in _RETRYABLE:
        return True
    return exc.status == RPCStatusCode.FAILED_PRECONDITION and _TASK_FAILED in exc.message


def _rpc_to_domain(exc: RPCError, checkout_id: str) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return DomainError(ErrorCode.NOT_FOUND, f"no checkout {checkout_id}")
    return exc
