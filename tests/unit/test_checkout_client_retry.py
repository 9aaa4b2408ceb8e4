"""CheckoutClient against scripted Temporal answers.

update-with-start: a hold the server aborted, refused or outwaited is sent again, under the
same update id; a cancelled call is not; a hold the workflow did not apply is sent again as a
new request. A state query that runs out of time is TRY_AGAIN.
Later calls name the run that the hold started.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from adapters.checkout_client import CheckoutClient, update_refusal
from domain.errors import DomainError, ErrorCode
from workflows.contract import HoldSeatsResult

HELD = HoldSeatsResult(held=True, seat_ids=["s1"])


class AnsweredUpdate:
    """The update handle of a hold that went through: its checkout's run and its result."""

    def __init__(self, result: Any, run_id: str) -> None:
        self._result = result
        self.workflow_run_id = run_id

    async def result(self) -> Any:
        return self._result


class ScriptedClient:
    """Answers update-with-start from a script: an RPCError to raise, or the result.

    Records the run each workflow handle names afterwards."""

    def __init__(self, *script: Any) -> None:
        self._script = list(script)
        self.update_ids: list[str] = []
        self.handles: list[tuple[str, str | None]] = []
        self.cancelled: list[str] = []  # workflows a cancel update was sent to

    async def start_update_with_start_workflow(self, *_: Any, **kwargs: Any) -> Any:
        self.update_ids.append(kwargs["id"])
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return AnsweredUpdate(step, run_id=f"run-{len(self.update_ids)}")

    def get_workflow_handle(self, workflow_id: str, run_id: str | None = None) -> Any:
        self.handles.append((workflow_id, run_id))
        return UnansweredQuery(
            RPCError("Timeout expired", RPCStatusCode.CANCELLED, b""),
            on_update=lambda: self.cancelled.append(workflow_id),
        )


def aborted() -> RPCError:
    return RPCError("workflow update was aborted", RPCStatusCode.UNAVAILABLE, b"")


def task_failed() -> RPCError:
    return RPCError(
        "Unable to perform workflow execution update due to Workflow Task in failed state.",
        RPCStatusCode.FAILED_PRECONDITION,
        b"",
    )


def timed_out_at_the_server() -> WorkflowUpdateRPCTimeoutOrCancelledError:
    """What the SDK raises when the server ends the call with "context deadline exceeded"."""
    error = WorkflowUpdateRPCTimeoutOrCancelledError()
    error.__cause__ = RPCError("context deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")
    return error


@pytest.mark.parametrize(
    "first",
    [aborted(), task_failed(), timed_out_at_the_server()],
    ids=["aborted", "workflow-task-failed", "server-deadline"],
)
async def test_the_hold_is_sent_again_under_the_same_update_id(first: Exception) -> None:
    client = ScriptedClient(first, HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    assert await checkouts.start_and_hold("c1", "u1", "e1", ["s1"]) == HELD
    assert len(client.update_ids) == 2 and len(set(client.update_ids)) == 1


async def test_it_gives_up_after_its_retries_with_a_structured_try_again() -> None:
    client = ScriptedClient(aborted(), aborted(), aborted(), HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.start_and_hold("c1", "u1", "e1", ["s1"])
    assert refused.value.code == ErrorCode.TRY_AGAIN
    assert len(client.update_ids) == 3


@pytest.mark.parametrize(
    "refused",
    [
        RPCError("workflow execution already completed", RPCStatusCode.FAILED_PRECONDITION, b""),
        RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""),
    ],
    ids=["other-failed-precondition", "other-rpc-error"],
)
async def test_other_rpc_errors_are_not_retried(refused: RPCError) -> None:
    client = ScriptedClient(refused, HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    with pytest.raises(RPCError):
        await checkouts.start_and_hold("c1", "u1", "e1", ["s1"])
    assert len(client.update_ids) == 1


async def test_a_cancelled_call_is_not_retried() -> None:
    cancelled = WorkflowUpdateRPCTimeoutOrCancelledError()
    cancelled.__cause__ = asyncio.CancelledError()
    client = ScriptedClient(cancelled, HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    # Raised as the cancellation it is, not as the SDK's error (which the API would answer
    # INTERNAL_SERVER_ERROR), and the checkout the start may have made is cancelled.
    with pytest.raises(asyncio.CancelledError):
        await checkouts.start_and_hold("c1", "u1", "e1", ["s1"])
    assert len(client.update_ids) == 1
    await _abandoned(client, "checkout-c1")


class HangingClient(ScriptedClient):
    """A Temporal that never answers the hold: cancelled inside the update's call, it raises
    what the SDK raises (WorkflowUpdateRPCTimeoutOrCancelledError from the CancelledError)."""

    async def start_update_with_start_workflow(self, *_: Any, **kwargs: Any) -> Any:
        self.update_ids.append(kwargs["id"])
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            raise WorkflowUpdateRPCTimeoutOrCancelledError() from exc
        raise AssertionError("unreachable")


async def _abandoned(client: ScriptedClient, workflow: str) -> None:
    """Waits (bounded) for the background cancel of the checkout ``workflow``."""
    async with asyncio.timeout(5):
        while workflow not in client.cancelled:
            await asyncio.sleep(0.01)


async def test_a_hold_past_the_call_backstop_is_try_again_and_abandons_its_checkout() -> None:
    client = HangingClient()
    checkouts = CheckoutClient(client, "q", call_seconds=0.05)  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.start_and_hold("c1", "u1", "e1", ["s1"])
    assert refused.value.code == ErrorCode.TRY_AGAIN
    await _abandoned(client, "checkout-c1")


async def test_seats_added_to_an_open_checkout_past_the_backstop_leave_it_open() -> None:
    # lockSeat joining the buyer's open checkout: a TRY_AGAIN must not drop its other seats.
    client = HangingClient()
    checkouts = CheckoutClient(client, "q", call_seconds=0.05)  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.start_and_hold("c1", "u1", "e1", ["s1"], opens=False)
    assert refused.value.code == ErrorCode.TRY_AGAIN
    await asyncio.sleep(0.1)  # a background cancel would have been sent by now
    assert client.cancelled == []


async def test_a_hold_cancelled_by_its_caller_is_cancelled_and_abandons_its_checkout() -> None:
    client = HangingClient()
    checkouts = CheckoutClient(client, "q", call_seconds=60)  # type: ignore[arg-type]
    call = asyncio.create_task(checkouts.start_and_hold("c1", "u1", "e1", ["s1"]))
    while not client.update_ids:
        await asyncio.sleep(0)

    call.cancel()  # as the backend watch does when Temporal goes down
    with pytest.raises(asyncio.CancelledError):
        await call
    assert call.cancelled()
    await _abandoned(client, "checkout-c1")


class UnansweredQuery:
    """A workflow handle whose query runs out of time, as on a server that lost the task."""

    def __init__(self, error: RPCError, on_update: Any = None) -> None:
        self._error = error
        self._on_update = on_update

    def get_workflow_handle(self, *_: Any, **__: Any) -> UnansweredQuery:
        return self

    async def query(self, *_: Any, **__: Any) -> Any:
        raise self._error

    async def execute_update(self, *_: Any, **__: Any) -> Any:
        if self._on_update is not None:
            self._on_update()


@pytest.mark.parametrize(
    "status", [RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE]
)
async def test_a_state_query_that_times_out_is_a_structured_try_again(
    status: RPCStatusCode,
) -> None:
    client = UnansweredQuery(RPCError("Timeout expired", status, b""))
    checkouts = CheckoutClient(client, "q")  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.state("c1")
    assert refused.value.code == ErrorCode.TRY_AGAIN


async def test_a_state_query_of_an_unknown_checkout_is_still_not_found() -> None:
    client = UnansweredQuery(RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""))
    checkouts = CheckoutClient(client, "q")  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.state("c1")
    assert refused.value.code == ErrorCode.NOT_FOUND


async def test_later_calls_name_the_run_that_the_hold_started() -> None:
    client = ScriptedClient(HELD)
    checkouts = CheckoutClient(client, "q")  # type: ignore[arg-type]

    await checkouts.start_and_hold("c1", "u1", "e1", ["s1"])
    with pytest.raises(DomainError):
        await checkouts.state("c1")
    with pytest.raises(DomainError):
        await checkouts.state("c2")  # started elsewhere: no run is named

    assert client.handles == [("checkout-c1", "run-1"), ("checkout-c2", None)]


async def test_it_forgets_the_least_recent_runs_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from adapters import checkout_client

    monkeypatch.setattr(checkout_client, "RUN_IDS_KEPT", 2)
    client = ScriptedClient(HELD, HELD, HELD)
    checkouts = CheckoutClient(client, "q")  # type: ignore[arg-type]
    for checkout_id in ("c1", "c2", "c3"):
        await checkouts.start_and_hold(checkout_id, "u1", "e1", ["s1"])
    for checkout_id in ("c1", "c3"):
        with pytest.raises(DomainError):
            await checkouts.state(checkout_id)

    assert client.handles == [("checkout-c1", None), ("checkout-c3", "run-3")]


def test_a_failed_update_carrying_our_refusal_answers_that_refusal() -> None:
    refusal = ApplicationError("seat taken", {"seat_ids": ["s1"]}, type="SEATS_UNAVAILABLE")

    error = update_refusal(WorkflowUpdateFailedError(refusal))

    assert error.code is ErrorCode.SEATS_UNAVAILABLE
    assert error.details == {"seat_ids": ["s1"]}


def test_a_failed_update_without_a_refusal_of_ours_answers_try_again() -> None:
    # e.g. the SDK failing the workflow task under load: the workflow did not apply it.
    sdk_failure = ApplicationError("unprocessed protocol messages", type="WorkflowTaskFailed")

    error = update_refusal(WorkflowUpdateFailedError(sdk_failure))

    assert error.code is ErrorCode.TRY_AGAIN


def unprocessed() -> WorkflowUpdateFailedError:
    """The server's rejection of an update whose workflow task was lost before it answered."""
    return WorkflowUpdateFailedError(
        ApplicationError("Workflow Update is rejected", type="UnprocessedUpdate")
    )


async def test_a_hold_the_workflow_did_not_apply_is_sent_again_as_a_new_request() -> None:
    # Its lost run may have locked the seats: sent again, the workflow takes or frees them.
    client = ScriptedClient(unprocessed(), HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    assert await checkouts.start_and_hold("c1", "u1", "e1", ["s1"]) == HELD
    assert len(client.update_ids) == 2 and len(set(client.update_ids)) == 2


class UpdatableHandle:
    """A running checkout's handle answering its updates from a script."""

    def __init__(self, script: list[Any]) -> None:
        self._script = script
        self.updates = 0

    async def execute_update(self, *_: Any, **__: Any) -> Any:
        self.updates += 1
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class RunningCheckout:
    def __init__(self, *script: Any) -> None:
        self.handle = UpdatableHandle(list(script))

    def get_workflow_handle(self, *_: Any, **__: Any) -> Any:
        return self.handle


async def test_seats_added_to_a_checkout_are_sent_again_until_applied() -> None:
    client = RunningCheckout(unprocessed(), unprocessed(), HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    assert await checkouts.hold("c1", ["s1"]) == HELD
    assert client.handle.updates == 3


async def test_seats_added_never_applied_end_in_try_again_after_the_retries() -> None:
    client = RunningCheckout(unprocessed(), unprocessed(), unprocessed(), HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.hold("c1", ["s1"])
    assert refused.value.code == ErrorCode.TRY_AGAIN
    assert client.handle.updates == 3


async def test_a_refusal_of_added_seats_is_answered_at_once() -> None:
    taken = WorkflowUpdateFailedError(ApplicationError("taken", type="SEATS_UNAVAILABLE"))
    client = RunningCheckout(taken, HELD)
    checkouts = CheckoutClient(client, "q", retry_delays=(0, 0))  # type: ignore[arg-type]

    with pytest.raises(DomainError) as refused:
        await checkouts.hold("c1", ["s1"])
    assert refused.value.code == ErrorCode.SEATS_UNAVAILABLE
    assert client.handle.updates == 1
