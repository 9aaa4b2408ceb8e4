"""A backend down answers fast: a hold is TRY_AGAIN (claims dropped, nothing left held) and
/health/ready names the backend, with our own Temporal dev server stopped or our own
moto_server frozen (SIGSTOP); the shared servers are never touched. The buyer's retry once
the backend is back is held, not refused CHECKOUT_ALREADY_OPEN. And slow is not down: a hold
that waits in line longer than any fixed deadline would allow, every backend answering, is
held.

No wall-clock bound is asserted here: each test asserts the answer's code and that it came
while the backend was still down (the chaos suite records the times, bench/chaos.py), or
that it came only after the wait.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.seat_claims import claims_key
from adapters.seat_locks import DynamoSeatLocks
from adapters.temporal_converter import DATA_CONVERTER
from api.services import Services
from bootstrap import build_services, build_worker
from config.settings import Settings
from devstack.services import Stack
from tests.api.conftest import Buyer, make_app, make_user

START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success failureReason checkout { id } } }"""


def _claims(services: Services, event_id: str) -> dict[bytes, bytes]:
    return services.redis.hgetall(claims_key(services.settings.redis_prefix, event_id))


async def _start(http: httpx.AsyncClient, buyer: Buyer, event: Any, seats: list[str]) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": START, "variables": {"e": event.id, "s": seats}},
        headers=buyer.headers,
    )
    return response


@pytest.fixture
def own_stack() -> Iterator[Stack]:
    """A Temporal dev server and a moto_server of this test only: they are what it stops."""
    stack = Stack()
    work = Path(tempfile.mkdtemp(prefix="tb-fast-answers-"))
    try:
        stack.start_dynamodb(None, work)
        stack.start_temporal(None, work, persistent=False)
        yield stack
    finally:
        for name, pid in stack.pids().items():  # a frozen server must be able to stop
            if name.startswith("moto"):
                os.kill(pid, signal.SIGCONT)
        stack.stop()


@pytest.fixture
async def own_services(
    api_settings: Settings, own_stack: Stack
) -> AsyncIterator[tuple[Settings, Services, Client]]:
    settings = api_settings.model_copy(
        update={
            "dynamodb_endpoint": own_stack.dynamodb_endpoint,
            "temporal_address": own_stack.temporal_address,
            "task_queue": f"fast-{uuid.uuid4().hex[:8]}",
        }
    )
    ensure_seat_lock_table(make_client(settings.dynamodb_endpoint), settings.seat_lock_table)
    client = await Client.connect(settings.temporal_address, data_converter=DATA_CONVERTER)
    services = build_services(settings, client)
    services.backends.start()  # as the app's lifespan does (ASGITransport runs none)
    yield settings, services, client
    await services.backends.stop()
    await services.close()


def _pid(stack: Stack, prefix: str) -> int:
    return next(pid for name, pid in stack.pids().items() if name.startswith(prefix))


async def test_a_hold_with_temporal_down_is_try_again_and_leaves_nothing_claimed(
    own_services: tuple[Settings, Services, Client], own_stack: Stack, event_factory: Any
) -> None:
    settings, services, _ = own_services
    event = event_factory(seats=2)
    buyer = make_user(services)
    transport = httpx.ASGITransport(app=make_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http:
        os.kill(_pid(own_stack, "temporal"), signal.SIGKILL)  # and never restarted here

        response = await _start(http, buyer, event, event.seat_ids)
        ready = await http.get("/health/ready")

    payload = response.json()["data"]["startCheckout"]
    assert (payload["success"], payload["failureReason"]) == (False, "TRY_AGAIN")
    assert _claims(services, event.id) == {}
    assert ready.status_code == 503 and ready.json()["down"] == ["temporal"]


async def test_a_hold_with_dynamodb_frozen_is_try_again_and_its_checkout_ends_holding_nothing(
    own_services: tuple[Settings, Services, Client], own_stack: Stack, event_factory: Any
) -> None:
    settings, services, client = own_services
    event = event_factory(seats=2)
    buyer = make_user(services)
    moto = _pid(own_stack, "moto")
    transport = httpx.ASGITransport(app=make_app(settings, services))
    async with (
        build_worker(settings, client),
        httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http,
    ):
        os.kill(moto, signal.SIGSTOP)
        try:
            response = await _start(http, buyer, event, event.seat_ids)
            ready = await http.get("/health/ready")
            claims_while_down = _claims(services, event.id)
            still_frozen = _state(moto) == "T"
        finally:
            os.kill(moto, signal.SIGCONT)
        # The hold may run once moto answers again; the client cancels its checkout, so the
        # locks it took are released and the checkout ends.
        locks = DynamoSeatLocks(make_client(settings.dynamodb_endpoint), settings.seat_lock_table)
        query = f"EventId = '{event.id}' AND ExecutionStatus = 'Running'"

        async def settled() -> bool:
            running = [w async for w in client.list_workflows(query)]
            return not running and not locks.live_locks(event.id)

        deadline = time.monotonic() + 120
        while not await settled() or services.backends.down(["dynamodb"]):
            assert time.monotonic() < deadline, "the abandoned checkout did not end"
            await asyncio.sleep(0.5)
        # The buyer tries again once DynamoDB is back: not refused CHECKOUT_ALREADY_OPEN.
        retried = await _start(http, buyer, event, event.seat_ids)

    payload = response.json()["data"]["startCheckout"]
    assert (payload["success"], payload["failureReason"]) == (False, "TRY_AGAIN")
    assert still_frozen  # the answer came while DynamoDB was still down
    assert claims_while_down == {}
    assert ready.json()["down"] == ["dynamodb"]
    again = retried.json()["data"]["startCheckout"]
    assert (again["success"], again["failureReason"]) == (True, None)


def _state(pid: int) -> str:
    """The process's state letter (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def test_a_hold_slow_in_the_admission_line_while_every_backend_answers_is_held(
    api_settings: Settings, temporal_client: Client, api_worker: None, event_factory: Any
) -> None:
    """Slow is not down: a hold waits in line longer than the old fixed deadlines (5 s for the
    request, 3.5 s for the saga call) while the watch runs, and is held, not TRY_AGAIN."""
    settings = api_settings.model_copy(update={"hold_admission_limit": 1})
    services = build_services(settings, temporal_client)
    services.backends.start()
    event = event_factory(seats=2)
    buyer = make_user(services)
    transport = httpx.ASGITransport(app=make_app(settings, services))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", timeout=60
        ) as http:
            async with services.hold_admission.slot():  # the line's only slot, taken
                hold = asyncio.create_task(_start(http, buyer, event, event.seat_ids))
                await asyncio.sleep(6)  # a flash sale's wait in line
                waited = not hold.done()
                ready = await http.get("/health/ready")
            response = await hold
    finally:
        await services.backends.stop()
        await services.close()

    assert waited  # still waiting when the slot came free: answered only after
    assert ready.status_code == 200 and ready.json()["down"] == []
    payload = response.json()["data"]["startCheckout"]
    assert (payload["success"], payload["failureReason"]) == (True, None)
