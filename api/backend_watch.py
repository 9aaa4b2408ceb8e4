"""Tells an outage from load: which backends answer, watched in the background.

A flash sale makes every call slow (a hold waits seconds in the admission line and at a busy
Temporal), and slow is not down: no call is refused for taking long. Instead,
one task per backend and API process probes it every ``interval_seconds`` with a cheap call
(``api/health.py``'s checks, on connections of the watch's own, so a probe never queues behind
the requests it judges). A probe fails when it is refused, errs, or has not answered within
``timeout_seconds``; ``down_after`` failures in a row mark the backend down, one answer marks
it up again. Then:

- a hold, a payment or a seat-map read that needs a backend that is down is refused at once
  (``require``, ``down``), before it claims anything;
- a call already waiting when a backend it needs goes down is cancelled then (``guard``); the
  call's own clean-up runs (its admission slot freed, a new checkout cancelled in the
  background: ``adapters/checkout_client.py``) and it is answered TRY_AGAIN;
- a call that fails open without a backend (Redis: the claims, the rate limiter, the response
  cache) is failed the same way, at once or at detection: ``guard`` with the client's own
  error as the refusal (``adapters/watched_redis.py``), so its fallback runs within seconds
  instead of after its socket timeouts and retries;
- ``/health/ready`` reports the same state.

A probe's verdict does not depend on how busy the API's event loop is, so load never reads as
an outage: a sync check runs on the watch's own threads and is judged by whether its thread
finished in time (the thread, not the loop, records that); the Temporal check carries its
deadline into the SDK's core (a gRPC deadline). A busy loop only makes the watch look later,
which gives a probe more time, never less.

Until the watch has run (an app built without its lifespan, as most tests do), nothing is down.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from domain.errors import DomainError, ErrorCode

T = TypeVar("T")
log = logging.getLogger(__name__)

DATABASE = "database"
CACHE = "cache"
DYNAMODB = "dynamodb"
TEMPORAL = "temporal"

# What each use needs answering, in one table.
# A hold: Temporal, and the hold step's PostgreSQL quote and DynamoDB locks. Not Redis: the
# claims and the open-checkout pointer fail open (DynamoDB decides).
HOLD = (TEMPORAL, DYNAMODB, DATABASE)
# A payment, sent and waited for to its outcome: Temporal, and what the saga's steps need
# (authorize, book and capture in PostgreSQL, the locks' release in DynamoDB; the workflow
# reports the payment accepted only once its task's steps ran, so the whole wait is one).
# Refused before it is sent, or its wait cut, answered ``payment_under_way``: the saga goes
# on with a payment it took (adapters/checkout_client.py::submit_payment).
PAYMENT = (TEMPORAL, DATABASE, DYNAMODB)
# A seat-map read the response cache cannot answer: PostgreSQL (the event, the rows). Its
# DynamoDB fallback is read only when Redis is down as well.
SEAT_MAP = (DATABASE,)
# Any other call to a checkout (its state, an extension, a cancel): Temporal.
CHECKOUT = (TEMPORAL,)
# Each Redis call of the API: it has a fallback (the claims and the rate limiter fail open,
# the caches are read around), so with Redis down it fails at once into it, never TRY_AGAIN.
REDIS_CALL = (CACHE,)


@dataclass(frozen=True)
class Check:
    """One backend's probe. ``in_thread``: ``run()`` blocks, and runs on the watch's threads;
    otherwise ``run(timeout_seconds)`` is awaited and must apply that deadline itself, off the
    event loop (the Temporal SDK's RPC timeout)."""

    run: Callable[..., Any]
    in_thread: bool


@dataclass(eq=False)
class _Waiter:
    """A call ``guard`` runs, and the deadline that cuts it (none until a backend falls)."""

    needs: frozenset[str]
    cut: asyncio.Timeout


@dataclass
class _Backend:
    failures: int = 0
    down: bool = False
    last: dict[str, Any] = field(default_factory=lambda: {"status": "unknown"})
    in_flight: concurrent.futures.Future[Any] | asyncio.Task[Any] | None = None


# What a guarded call raises instead of its outcome, given the backends down.
Refusal = Callable[[list[str]], BaseException]


def try_again(names: Iterable[str]) -> DomainError:
    """The answer to a call whose backends are down: nothing was done, send it again later."""
    listed = ", ".join(names)
    return DomainError(
        ErrorCode.TRY_AGAIN,
        f"a service this needs is down ({listed}); try again in a few seconds",
        down=listed,
    )


def payment_under_way(names: Iterable[str]) -> DomainError:
    """The answer to a payment while a backend it needs is down. The saga may have taken it
    (then it goes on: nothing is undone, and a second payment is refused while it runs), so
    the buyer is pointed at the checkout's state, which ends CONFIRMED or FAILED."""
    listed = ", ".join(names)
    return DomainError(
        ErrorCode.TRY_AGAIN,
        f"a service this payment needs is down ({listed}); it may be under way: read the "
        "checkout (checkout / checkoutProgress) in a few seconds for its outcome, and pay "
        "again only if it is still HELD",
        down=listed,
    )


class BackendWatch:
    def __init__(
        self,
        checks: Mapping[str, Check],
        interval_seconds: float,
        timeout_seconds: float,
        down_after: int,
        on_stop: Iterable[Callable[[], object]] = (),
    ) -> None:
        """``on_stop``: closes the probes' own connections when the watch stops."""
        self._checks = dict(checks)
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._down_after = max(1, down_after)
        self._on_stop = list(on_stop)
        self._backends = {name: _Backend() for name in self._checks}
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        # The calls ``guard`` runs now: each is cut when a backend it needs goes down.
        self._waiting: set[_Waiter] = set()

    # --- what callers ask ---

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def down(self, needs: Iterable[str]) -> list[str]:
        """The backends of ``needs`` that are down (none before the watch has run)."""
        return [n for n in needs if n in self._backends and self._backends[n].down]

    def require(self, needs: Iterable[str]) -> None:
        """Raises DomainError TRY_AGAIN when a backend of ``needs`` is down."""
        down = self.down(needs)
        if down:
            raise try_again(down)

    async def guard(
        self, needs: tuple[str, ...], call: Awaitable[T], refusal: Refusal = try_again
    ) -> T:
        """``call``'s outcome, unless a backend of ``needs`` is down first or goes down while
        it waits: then the call is cancelled, its clean-up awaited, and ``refusal(down)``
        raised (DomainError TRY_AGAIN unless told). A call that finished anyway keeps its
        outcome."""
        down = self.down(needs)
        if down:
            if inspect.iscoroutine(call):
                call.close()  # never started: nothing to clean up
            raise refusal(down)
        if not self.running:
            return await call
        # The call runs in the caller's own task, cut by a deadline that only the watch sets
        # (at a backend's fall): no task of its own, since every Redis call of the API comes
        # through here. Its clean-up (the slot freed, the checkout abandoned) runs as the
        # cancellation unwinds it; a cancellation of the caller (a request cap) reaches it
        # the same way.
        waiter = _Waiter(frozenset(needs), asyncio.timeout(None))
        try:
            async with waiter.cut:
                self._waiting.add(waiter)
                try:
                    return await call
                finally:
                    self._waiting.discard(waiter)
        except TimeoutError:
            if not waiter.cut.expired():
                raise  # the call's own
        raise refusal(self.down(needs) or list(needs))

    def guarding(
        self, needs: tuple[str, ...], refusal: Refusal = try_again
    ) -> Callable[[Awaitable[T]], Awaitable[T]]:
        """``guard`` bound to ``needs``: what the checkout client and the API's Redis clients
        run their calls under."""

        def guarded(call: Awaitable[T]) -> Awaitable[T]:
            return self.guard(needs, call, refusal)

        return guarded

    def report(self) -> dict[str, dict[str, Any]]:
        """Each backend's state and its last probe, for /health/ready."""
        return {
            name: {**b.last, "status": "down" if b.down else "ok"}
            for name, b in self._backends.items()
        }

    async def probe_once(self) -> dict[str, dict[str, Any]]:
        """One probe of each backend, judged alone: /health/ready of an app whose watch is not
        running (built without its lifespan)."""
        self._ensure_threads()
        names = list(self._checks)
        results = await asyncio.gather(*(self._probe(n) for n in names))
        unanswered = {"status": "down", "error": "TimeoutError"}
        return {n: r or unanswered for n, r in zip(names, results, strict=True)}

    # --- running ---

    def start(self) -> None:
        if self.running:
            return
        self._ensure_threads()
        self._tasks = [
            asyncio.create_task(self._watch(name), name=f"backend-watch-{name}")
            for name in self._checks
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
        for close in self._on_stop:
            close()

    def _ensure_threads(self) -> None:
        if self._threads is None:
            sync = sum(1 for c in self._checks.values() if c.in_thread)
            self._threads = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, sync), thread_name_prefix="backend-watch"
            )

    async def _watch(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                self._record(name, await self._probe(name))
            except Exception:  # a bug in a probe must not end the watch
                log.exception("backend probe of %s failed to run", name)
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - started)))

    def _record(self, name: str, result: dict[str, Any] | None) -> None:
        if result is None:
            return  # no verdict yet (see _probe_async)
        backend = self._backends[name]
        backend.last = result
        if result["status"] == "ok":
            backend.failures = 0
            if backend.down:
                backend.down = False
                log.warning("backend %s is up again", name)
            return
        backend.failures += 1
        if not backend.down and backend.failures >= self._down_after:
            backend.down = True
            log.warning("backend %s is down: %s", name, result.get("error"))
            now = asyncio.get_running_loop().time()
            for waiter in [w for w in self._waiting if name in w.needs]:
                self._waiting.discard(waiter)
                waiter.cut.reschedule(now)  # cancels its task as soon as the loop turns

    async def _probe(self, name: str) -> dict[str, Any] | None:
        check = self._checks[name]
        if check.in_thread:
            return await self._probe_in_thread(name, check)
        return await self._probe_async(name, check)

    async def _probe_in_thread(self, name: str, check: Check) -> dict[str, Any]:
        """Judged by the thread's own record: done within the timeout or not. A probe still
        running (a frozen backend) is not started again; it fails again each timeout."""
        backend = self._backends[name]
        future = backend.in_flight
        if not isinstance(future, concurrent.futures.Future) or future.done():
            assert self._threads is not None
            future = self._threads.submit(_timed, check.run)
            backend.in_flight = future
        waited = asyncio.wrap_future(future)
        # Judged below by the thread's own future: the loop's copy of a probe that outlived
        # its timeout is never read, and would be logged "exception was never retrieved"
        # from the garbage collector (each probe of a frozen backend, every second).
        waited.add_done_callback(_read)
        await asyncio.wait({waited}, timeout=self._timeout)
        if not future.done():  # the thread says so, however late the loop looked
            return {"status": "down", "error": "TimeoutError"}
        backend.in_flight = None
        try:
            seconds = future.result()
        except Exception as exc:  # any failure is "down"; the type name helps, the text may leak
            return {"status": "down", "error": type(exc).__name__}
        # Done by the time the loop looked: an answer, even a slow one (slow is not down).
        return {"status": "ok", "latency_ms": round(seconds * 1000, 1)}

    async def _probe_async(self, name: str, check: Check) -> dict[str, Any] | None:
        """The check applies its timeout off the loop, so its outcome is the verdict, however
        late the loop delivers it. None (no verdict yet) only when it has not even been
        delivered within four timeouts: the loop is that busy, which is load, not an outage."""
        backend = self._backends[name]
        task = backend.in_flight
        if not isinstance(task, asyncio.Task) or task.done():
            task = asyncio.ensure_future(_timed_async(check.run, self._timeout))
            backend.in_flight = task
        done, _ = await asyncio.wait({task}, timeout=4 * self._timeout)
        if not done:
            return None
        backend.in_flight = None
        try:
            seconds = task.result()
        except Exception as exc:
            return {"status": "down", "error": type(exc).__name__}
        return {"status": "ok", "latency_ms": round(seconds * 1000, 1)}


def _read(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _timed(run: Callable[[], Any]) -> float:
    started = time.monotonic()
    run()
    return time.monotonic() - started


async def _timed_async(run: Callable[[float], Awaitable[Any]], timeout_seconds: float) -> float:
    started = time.monotonic()
    await run(timeout_seconds)
    return time.monotonic() - started
