"""A payment while a backend its steps need goes down (adapters/checkout_client.py::
submit_payment under api/backend_watch.py's PAYMENT).

The buyer's wait, for the workflow's acceptance or for the outcome, is cut and answered
TRY_AGAIN as soon as the watch says the backend is down; the payment itself is not touched
(the server's update goes on). A slow payment while every backend answers is waited for, and
one needing a backend that is down is not sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from adapters.checkout_client import CheckoutClient
from api.backend_watch import (
    DATABASE,
    DYNAMODB,
    PAYMENT,
    TEMPORAL,
    BackendWatch,
    Check,
    payment_under_way,
)
from api.resolvers.checkouts import resolve_submit_payment
from domain.errors import DomainError, ErrorCode
from tests.unit.scripted_backend import ScriptedBackend as Backend
from workflows.contract import UPDATE_SUBMIT_PAYMENT, CheckoutState


def confirmed() -> CheckoutState:
    return CheckoutState(
        checkout_id="c1", user_id="u1", event_id="e1", status="CONFIRMED", seat_ids=["s1"]
    )


@dataclass
class Workflow:
    """One checkout's workflow at a scripted server: the payment's outcome comes when
    ``finish`` is set."""

    finish: asyncio.Event = field(default_factory=asyncio.Event)
    # The server reports a payment accepted only once the workflow task that took it ended
    # (its steps are local activities): until ``accept`` is set, the call waits.
    accept: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0
    cut: int = 0  # calls whose wait ended before the payment's outcome
    results_asked: int = 0

    async def start_update(self, name: str, _arg: Any, **kwargs: Any) -> Any:
        assert name == UPDATE_SUBMIT_PAYMENT
        self.sent += 1
        await _as_the_sdk(self, self.accept.wait())
        return _Update(self)


class _Update:
    def __init__(self, workflow: Workflow) -> None:
        self._workflow = workflow

    async def result(self) -> CheckoutState:
        self._workflow.results_asked += 1
        await _as_the_sdk(self._workflow, self._workflow.finish.wait())  # however long
        return confirmed()


async def _as_the_sdk(workflow: Workflow, wait: Awaitable[object]) -> None:
    """The SDK raises the cancellation of an update's call as its own error."""
    try:
        await wait
    except asyncio.CancelledError as err:
        workflow.cut += 1
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from err


class Server:
    def __init__(self) -> None:
        self.workflow = Workflow()

    def get_workflow_handle(self, _workflow_id: str, run_id: str | None = None) -> Workflow:
        return self.workflow


@dataclass
class World:
    watch: BackendWatch
    backends: dict[str, Backend]
    server: Server
    client: CheckoutClient


@pytest.fixture
async def world() -> AsyncIterator[World]:
    backends = {name: Backend() for name in (TEMPORAL, DATABASE, DYNAMODB)}
    watch = BackendWatch(
        {name: Check(b.check, in_thread=False) for name, b in backends.items()},
        interval_seconds=0.01,
        timeout_seconds=0.5,
        down_after=2,
    )
    server = Server()
    client = CheckoutClient(
        server,  # type: ignore[arg-type]
        "checkout",
        payment_guard=watch.guarding(PAYMENT, payment_under_way),
    )
    watch.start()
    await backends[TEMPORAL].probed_again()
    try:
        async with asyncio.timeout(30):  # a broken cut fails the test instead of hanging it
            yield World(watch, backends, server, client)
    finally:
        await watch.stop()


async def _sent(world: World) -> None:
    while not world.server.workflow.sent:
        await asyncio.sleep(0.005)


async def _cut_when_dynamodb_goes_down(world: World, paying: asyncio.Task[object]) -> None:
    await world.backends[DYNAMODB].probed_again(3)
    assert not paying.done()  # a slow payment while every backend answers is waited for
    world.backends[DYNAMODB].up = False
    with pytest.raises(DomainError) as answered:
        await paying
    assert answered.value.code == ErrorCode.TRY_AGAIN
    assert "may be under way" in answered.value.message
    assert answered.value.details["down"] == DYNAMODB
    assert world.server.workflow.cut == 1  # the call's wait, not the payment


async def test_a_payment_waiting_to_be_accepted_is_cut_when_dynamodb_goes_down(
    world: World,
) -> None:
    paying = asyncio.create_task(world.client.submit_payment("c1", "tok_visa", user_id="u1"))
    await _sent(world)
    await _cut_when_dynamodb_goes_down(world, paying)
    assert world.server.workflow.results_asked == 0


async def test_an_accepted_payment_waiting_for_its_outcome_is_cut_the_same_way(
    world: World,
) -> None:
    world.server.workflow.accept.set()
    paying = asyncio.create_task(world.client.submit_payment("c1", "tok_visa", user_id="u1"))
    while world.server.workflow.results_asked == 0:
        await asyncio.sleep(0.005)
    await _cut_when_dynamodb_goes_down(world, paying)


async def test_a_payment_needing_a_backend_that_is_down_is_refused_before_it_is_sent(
    world: World,
) -> None:
    world.backends[DATABASE].up = False
    while not world.watch.down([DATABASE]):
        await asyncio.sleep(0.005)

    with pytest.raises(DomainError) as refused:
        await world.client.submit_payment("c1", "tok_visa", user_id="u1")
    assert refused.value.code == ErrorCode.TRY_AGAIN
    assert world.server.workflow.sent == 0


async def test_submit_payment_answers_an_outage_without_reading_the_busy_checkouts_state(
    world: World,
) -> None:
    """The resolver's answer to that TRY_AGAIN names no checkout state: reading it is a
    workflow query, which waits for the very task that waits on the backend that is down."""
    world.backends[DYNAMODB].up = False
    while not world.watch.down([DYNAMODB]):
        await asyncio.sleep(0.005)

    async def checkouts() -> CheckoutClient:
        return world.client

    services = SimpleNamespace(
        checkouts=checkouts,
        default_payment_token=None,
        settings=SimpleNamespace(payment_processor="sandbox"),
    )
    context = SimpleNamespace(services=services, require_user=lambda: SimpleNamespace(user_id="u1"))
    info = SimpleNamespace(context=context)
    checkout_id = "6f1c1f0e-8a43-4c43-9a39-0c1b6f0e1a11"

    payload = await resolve_submit_payment(None, info, checkout_id, "tok_visa")  # type: ignore[arg-type]

    assert payload["failure_reason"] == ErrorCode.TRY_AGAIN.value
    assert payload["checkout"] is None
