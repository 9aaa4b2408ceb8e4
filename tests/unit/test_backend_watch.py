"""The backend watch (api/backend_watch.py) against scripted probes: down only after failures
in a row, up after one answer; a call refused while its backend is down, cancelled when it
goes down while the call waits (its clean-up run first), left alone when another one does;
a probe on a thread judged by the thread, not by the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from api.backend_watch import BackendWatch, Check
from domain.errors import DomainError, ErrorCode
from tests.unit.scripted_backend import ScriptedBackend as Backend


@pytest.fixture
async def backends() -> AsyncIterator[tuple[BackendWatch, Backend, Backend]]:
    temporal, dynamodb = Backend(), Backend()
    watch = BackendWatch(
        {
            "temporal": Check(temporal.check, in_thread=False),
            "dynamodb": Check(dynamodb.check, in_thread=False),
        },
        interval_seconds=0.01,
        timeout_seconds=0.5,
        down_after=2,
    )
    watch.start()
    await temporal.probed_again()
    yield watch, temporal, dynamodb
    await watch.stop()


async def _down(watch: BackendWatch, name: str) -> None:
    async with asyncio.timeout(5):
        while not watch.down([name]):
            await asyncio.sleep(0.005)


async def test_a_backend_is_down_after_failures_in_a_row_and_up_after_one_answer(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, temporal, _ = backends
    temporal.up = False
    await temporal.probed_again()
    seen_after_first = watch.down(["temporal"])
    await _down(watch, "temporal")
    assert seen_after_first == []  # one failure is not an outage
    assert watch.report()["temporal"] == {"status": "down", "error": "ConnectionRefusedError"}

    temporal.up = True
    await temporal.probed_again(2)
    assert watch.down(["temporal", "dynamodb"]) == []
    assert watch.report()["temporal"]["status"] == "ok"


async def test_a_call_needing_a_backend_that_is_down_is_refused_before_it_runs(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, temporal, _ = backends
    temporal.up = False
    await _down(watch, "temporal")
    ran = False

    async def call() -> None:
        nonlocal ran
        ran = True

    with pytest.raises(DomainError) as refused:
        watch.require(("temporal",))
    assert refused.value.code == ErrorCode.TRY_AGAIN
    with pytest.raises(DomainError):
        await watch.guard(("dynamodb", "temporal"), call())
    assert ran is False
    assert await watch.guard(("dynamodb",), asyncio.sleep(0, "answered")) == "answered"


async def test_a_waiting_call_is_cancelled_when_its_backend_goes_down_after_its_clean_up(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, temporal, _ = backends
    events: list[str] = []
    started = asyncio.Event()

    async def slow_call() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # a busy Temporal: waits as long as it takes
        finally:
            events.append("clean-up")
        return "never"

    guarded = asyncio.create_task(watch.guard(("temporal",), slow_call()))
    await started.wait()
    await temporal.probed_again(3)
    assert not guarded.done()  # slow while up is not down

    temporal.up = False
    with pytest.raises(DomainError) as refused:
        await guarded
    events.append("answered")
    assert refused.value.code == ErrorCode.TRY_AGAIN
    assert events == ["clean-up", "answered"]
    assert temporal.up is False  # answered while the backend was still down


async def test_a_call_is_not_cancelled_when_a_backend_it_does_not_need_goes_down(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, temporal, dynamodb = backends
    release = asyncio.Event()

    async def call() -> str:
        await release.wait()
        return "held"

    guarded = asyncio.create_task(watch.guard(("temporal",), call()))
    dynamodb.up = False
    await _down(watch, "dynamodb")
    await temporal.probed_again()
    assert not guarded.done()
    release.set()
    assert await guarded == "held"


async def test_a_watch_that_is_not_running_says_nothing_is_down() -> None:
    backend = Backend()
    backend.up = False
    watch = BackendWatch({"temporal": Check(backend.check, in_thread=False)}, 0.01, 0.5, 1)
    assert watch.down(["temporal"]) == []
    assert await watch.guard(("temporal",), asyncio.sleep(0, "answered")) == "answered"
    assert backend.probes == 0
    # /health/ready of such an app probes once instead
    assert (await watch.probe_once())["temporal"]["status"] == "down"


async def test_a_thread_probe_still_running_at_its_timeout_fails_and_one_that_ends_answers() -> (
    None
):
    release = threading.Event()
    calls = 0

    def frozen_then_answering() -> None:
        nonlocal calls
        calls += 1
        release.wait()  # a frozen backend: the thread does not come back

    watch = BackendWatch({"dynamodb": Check(frozen_then_answering, in_thread=True)}, 0.01, 0.05, 1)
    try:
        assert (await watch.probe_once())["dynamodb"] == {"status": "down", "error": "TimeoutError"}
        # Still in flight: the next probe waits for the same call instead of piling up another.
        assert (await watch.probe_once())["dynamodb"]["status"] == "down"
        assert calls == 1
        release.set()
        assert (await watch.probe_once())["dynamodb"]["status"] == "ok"
    finally:
        release.set()
        await watch.stop()


async def test_a_cancelled_caller_cancels_its_call_and_is_not_answered_as_an_outage(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, _, _ = backends
    events: list[str] = []
    started = asyncio.Event()

    async def call() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            events.append("clean-up")

    guarded = asyncio.create_task(watch.guard(("temporal",), call()))
    await started.wait()
    guarded.cancel()  # a request's cap
    with pytest.raises(asyncio.CancelledError):
        await guarded
    assert events == ["clean-up"]


async def test_a_calls_own_timeout_is_its_own_and_a_refusal_can_be_the_callers_error(
    backends: tuple[BackendWatch, Backend, Backend],
) -> None:
    watch, temporal, _ = backends

    async def times_out() -> None:
        async with asyncio.timeout(0):
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await watch.guard(("temporal",), times_out())

    temporal.up = False
    await _down(watch, "temporal")
    with pytest.raises(LookupError, match="temporal"):
        await watch.guard(("temporal",), asyncio.sleep(0), lambda down: LookupError(*down))
