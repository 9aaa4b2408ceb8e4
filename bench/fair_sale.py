"""Issue 25's fair on-sale: the flash sale through the waiting room, plus one bot account.

``buyers`` buyers arrive over ``arrival_seconds`` (uniformly, from a seeded generator); the
first ``early_share`` of that time is before the opening, so those buyers wait in the pre-queue.
Each joins the room (``joinQueue``), asks ``queueStatus`` as often as the room suggests, and
once admitted behaves as in the flash sale (``bench.buyer``: the same shares abandon and
decline), its holds carrying the admission. One bot account runs ``bot_clients`` clients at
once, each holding as many seats as it can (10 a checkout) and paying for them, for as long as
its admission lasts. The event opens at a set time (the bench flips it ON_SALE as the lifecycle
would) with ``maxTicketsPerBuyer`` set.

Measured: what sold (``seats_sold == seats`` is the goal: abandoned holds lapse and go to the
next admitted buyers), the order of admissions against queue positions (Kendall's tau-b over
the server's admission times), the ETA each buyer was first told after the opening against its
actual wait, accounts admitted twice, the bot's seats, and the flash sale's invariants.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from temporalio.client import Client

from adapters.payments import TOKEN_APPROVE
from adapters.temporal_converter import DATA_CONVERTER
from bench.buyer import SEAT_MAP, Call, Outcome, Reply, buy, plan_buyers
from bench.flash_sale import wait_terminal
from bench.http_lane import Lane
from bench.stack import (
    BenchStack,
    check_invariants,
    create_users,
    seats_sold,
    seed_event,
)
from bench.stats import percentile, summary_ms

JOIN = """mutation Join($eventId: ID!) { joinQueue(eventId: $eventId) {
  success failureReason status { state } } }"""
STATUS = """query Status($eventId: ID!) { queueStatus(eventId: $eventId) {
  state position etaSeconds admission admittedAt pollAfterMs } }"""
# The buyer's own hold, with the admission: a third variable the refusals' fast path accepts.
HOLD_ADMITTED = """
mutation Hold($eventId: ID!, $seatIds: [ID!]!, $admission: String) {
  startCheckout(eventId: $eventId, seatIds: $seatIds, admission: $admission) {
    success failureReason takenSeatIds checkout { id }
  }
}"""
PAY = """mutation Pay($checkoutId: ID!, $paymentToken: String) {
  submitPayment(checkoutId: $checkoutId, paymentToken: $paymentToken) { success } }"""
DONE_STATES = frozenset({"SOLD_OUT", "CLOSED", "TURN_EXPIRED"})


class Pool:
    """``size`` keep-alive connections shared by every buyer: a waiting buyer holds none."""

    def __init__(self, urls: Sequence[str], size: int) -> None:
        self._urls = itertools.cycle(urls)
        self._size = size
        self._free: asyncio.Queue[Lane] = asyncio.Queue()
        self._lanes: list[Lane] = []

    async def __aenter__(self) -> Pool:
        for _ in range(self._size):
            lane = await Lane().__aenter__()
            self._lanes.append(lane)
            self._free.put_nowait(lane)
        return self

    async def __aexit__(self, *_: Any) -> None:
        for lane in self._lanes:
            await lane.__aexit__(None, None, None)

    async def call(self, call: Call) -> Reply:
        lane = await self._free.get()
        try:
            began = time.perf_counter()
            status, body, server_ms = await lane.post_json(
                f"{next(self._urls)}/graphql", call.body(), call.headers()
            )
            return Reply(status, body, (time.perf_counter() - began) * 1000, server_ms)
        finally:
            self._free.put_nowait(lane)


@dataclass
class Visit:
    """One account's time in the room, as its client saw it."""

    user_id: str
    joined_at: float = 0.0
    first_seen: tuple[float, int, int | None] | None = None  # (time, position, eta) after opening
    position: int | None = None
    admitted_at: float | None = None  # the server's admission time (epoch seconds)
    admissions: set[str] = field(default_factory=set)
    final_state: str | None = None
    outcome: Outcome | None = None
    http_5xx: int = 0


def _data(reply: Reply, name: str, visit: Visit) -> Any:
    if reply.status >= 500:
        visit.http_5xx += 1
    body = reply.body or {}
    if reply.status != 200 or body.get("errors"):
        return None
    return (body.get("data") or {}).get(name)


async def wait_turn(pool: Pool, event_id: str, token: str, visit: Visit) -> str | None:
    """Joins and waits; the admission once admitted, None when the room says it is over."""
    joined = _data(
        await pool.call(Call("join", JOIN, {"eventId": event_id}, token)), "joinQueue", visit
    )
    visit.joined_at = time.time()
    if not joined or not joined["success"]:
        visit.final_state = "join_refused"
        return None
    while True:
        reply = await pool.call(Call("status", STATUS, {"eventId": event_id}, token))
        status = _data(reply, "queueStatus", visit)
        if status is None:
            await asyncio.sleep(1)
            continue
        state = status["state"]
        if status["position"] is not None:
            visit.position = status["position"]
            if visit.first_seen is None:
                visit.first_seen = (time.time(), status["position"], status["etaSeconds"])
        if state == "ADMITTED":
            visit.admissions.add(status["admission"])
            admitted = datetime.fromisoformat(status["admittedAt"])
            visit.admitted_at = admitted.timestamp()
            return str(status["admission"])
        if state in DONE_STATES:
            visit.final_state = state
            return None
        await asyncio.sleep(status["pollAfterMs"] / 1000)


async def run_buyer(
    pool: Pool, event_id: str, plan: Any, token: str, rng: random.Random, visit: Visit
) -> None:
    admission = await wait_turn(pool, event_id, token, visit)
    if admission is None:
        return
    steps = buy(plan, event_id, token, rng)
    call = next(steps)
    while True:
        if call.op == "hold":  # the same hold, carrying the admission
            call = Call("hold", HOLD_ADMITTED, {**call.variables, "admission": admission}, token)
        reply = await pool.call(call)
        try:
            call = steps.send(reply)
        except StopIteration as stop:
            visit.outcome = stop.value
            visit.final_state = "bought" if stop.value.result == "confirmed" else stop.value.result
            return


async def run_bot_client(
    pool: Pool, event_id: str, token: str, visit: Visit, seats_each: int, deadline: float
) -> Counter[str]:
    """One of the bot's clients: as many seats as it can, 10 at a time, paid at once."""
    seen: Counter[str] = Counter()
    admission = await wait_turn(pool, event_id, token, visit)
    if admission is None:
        return seen
    while time.time() < deadline:
        reply = await pool.call(Call("seat_map", SEAT_MAP, {"eventId": event_id}, token))
        seats = _data(reply, "availableSeats", visit) or []
        if not seats:  # held seats may come back; a sold-out event ends the bot's run
            reply = await pool.call(Call("status", STATUS, {"eventId": event_id}, token))
            if (_data(reply, "queueStatus", visit) or {}).get("state") in DONE_STATES:
                return seen
            await asyncio.sleep(0.5)
            continue
        chosen = [s["id"] for s in random.sample(seats, min(seats_each, len(seats)))]
        variables = {"eventId": event_id, "seatIds": chosen, "admission": admission}
        held = _data(
            await pool.call(Call("hold", HOLD_ADMITTED, variables, token)), "startCheckout", visit
        )
        if not held:
            continue
        if not held["success"]:
            seen[held["failureReason"]] += 1
            if held["failureReason"] == "NOT_ADMITTED":
                return seen  # the turn is over
            await asyncio.sleep(0.05)
            continue
        seen["held"] += 1
        pay = {"checkoutId": held["checkout"]["id"], "paymentToken": TOKEN_APPROVE}
        await pool.call(Call("pay", PAY, pay, token))
    return seen


def kendall_tau(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Kendall's tau between queue positions and admission times over the pairs admitted at
    different moments, (concordant - discordant) / (concordant + discordant). Buyers admitted
    in the same tick have no order between them: tau-b would count each such pair against the
    room (0.74 for a perfectly ordered sale admitting in batches), so they are left out."""
    concordant = discordant = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx == 0 or dy == 0:
                continue
            if (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    return None if pairs == 0 else round((concordant - discordant) / pairs, 4)


def discordant_pairs(xs: Sequence[float], ys: Sequence[float]) -> int:
    """Pairs admitted against their queue order: the one behind admitted strictly first."""
    pairs = sorted(zip(xs, ys, strict=True))
    return sum(
        1
        for i in range(len(pairs))
        for j in range(i + 1, len(pairs))
        if pairs[i][0] < pairs[j][0] and pairs[i][1] > pairs[j][1]
    )


def eta_errors_pct(visits: Sequence[Visit]) -> list[float]:
    """|predicted - actual wait| / actual, in %, for buyers told an ETA after the opening
    (waits under a second are left out: their ETA is rounded to whole seconds)."""
    errors = []
    for v in visits:
        if v.first_seen is None or v.admitted_at is None or v.first_seen[2] is None:
            continue
        seen_at, _, eta = v.first_seen
        actual = v.admitted_at - seen_at
        if actual >= 1.0:
            errors.append(abs(eta - actual) / actual * 100)
    return errors


def bot_seats(engine: Any, event_id: str, user_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id "
                    "WHERE b.event_id = :e AND b.user_id = :u AND bs.released_at IS NULL"
                ),
                {"e": event_id, "u": user_id},
            ).scalar_one()
        )


def prepare_event(engine: Any, event_id: str, opens_at: datetime, max_tickets: int) -> None:
    """SCHEDULED with an onSaleAt (so the room is on) and the per-buyer limit."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE events SET status = 'SCHEDULED', on_sale_at = :t, "
                "max_tickets_per_buyer = :m WHERE id = :e"
            ),
            {"t": opens_at, "m": max_tickets, "e": event_id},
        )


def open_sale(engine: Any, event_id: str) -> None:
    """What the event's lifecycle does at onSaleAt."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'ON_SALE' WHERE id = :e"), {"e": event_id})


async def run(
    bench: BenchStack,
    api_urls: Sequence[str],
    buyers: int,
    seats: int,
    clients: int,
    hold_seconds: int,
    seed: int = 25,
    arrival_seconds: float = 10.0,
    early_share: float = 0.3,
    bot_clients: int = 50,
    max_tickets: int = 4,
    turn_seconds: int = 20,
    abandon_share: float = 0.1,
    decline_share: float = 0.1,
) -> dict[str, Any]:
    client = await Client.connect(bench.stack.temporal_address, data_converter=DATA_CONVERTER)
    event = await asyncio.to_thread(seed_event, bench.engine, seats, 20, f"fair-{seed}")
    plans = plan_buyers(buyers, seed, abandon_share, decline_share, 0.0)
    users = await asyncio.to_thread(create_users, bench.engine, buyers + 1)
    minted = bench.tokens()
    tokens = [minted.issue(user_id, email) for user_id, email in users]
    bot_id, bot_token = users[-1][0], tokens[-1]
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, arrival_seconds) for _ in range(buyers))
    opening = early_share * arrival_seconds
    began = time.time()
    await asyncio.to_thread(
        prepare_event,
        bench.engine,
        event.event_id,
        datetime.now(UTC) + timedelta(seconds=opening),
        max_tickets,
    )
    visits = [Visit(user_id) for user_id, _ in users[:-1]]
    bot_visits = [Visit(bot_id) for _ in range(bot_clients)]

    async def buyer(i: int) -> None:
        await asyncio.sleep(max(0.0, began + arrivals[i] - time.time()))
        await run_buyer(
            pool, event.event_id, plans[i], tokens[i], random.Random(seed * 7 + i), visits[i]
        )

    async def opener() -> None:
        await asyncio.sleep(max(0.0, began + opening - time.time()))
        await asyncio.to_thread(open_sale, bench.engine, event.event_id)

    async with Pool(api_urls, clients) as pool:
        tasks = [asyncio.create_task(buyer(i)) for i in range(buyers)]
        opened = asyncio.create_task(opener())
        bot_deadline = began + opening + 5 * turn_seconds
        bots = [
            asyncio.create_task(
                run_bot_client(pool, event.event_id, bot_token, v, 10, bot_deadline)
            )
            for v in bot_visits
        ]
        await opened
        opened_at = time.time()
        bot_seen = Counter[str]()
        for counted in await asyncio.gather(*bots):
            bot_seen += counted
        await asyncio.gather(*tasks)
    sale_seconds = time.time() - opened_at
    still_running, waited = await wait_terminal(client, event.event_id, hold_seconds * 2 + 120)
    await asyncio.sleep(2)  # past the seat-map cache's staleness bound
    violations = await check_invariants(bench, client, [event.event_id], with_seat_map=True)
    sold = await asyncio.to_thread(seats_sold, bench.engine, event.event_id)
    bot_max = await asyncio.to_thread(bot_seats, bench.engine, event.event_id, bot_id)

    outcomes = [v.outcome for v in visits if v.outcome is not None]
    kinds = Counter(v.kind for v in violations)
    confirmed_seats = [s for o in outcomes if o.result == "confirmed" for s in o.seats]
    admitted = [v for v in visits if v.admitted_at is not None and v.position is not None]
    tau = kendall_tau([v.position for v in admitted], [v.admitted_at for v in admitted])  # type: ignore[misc]
    errors = eta_errors_pct(visits)
    hold = summary_ms([ms for o in outcomes for ms in o.hold_ms])
    refusal = summary_ms([ms for o in outcomes for ms in o.refusal_ms])
    accounts: dict[str, set[str]] = {}
    for v in [*visits, *bot_visits]:
        accounts.setdefault(v.user_id, set()).update(v.admissions)
    return {
        "event_id": event.event_id,
        "buyers": buyers,
        "clients": clients,
        "hold_seconds": hold_seconds,
        "turn_seconds": turn_seconds,
        "arrival_seconds": arrival_seconds,
        "joined_before_opening": sum(1 for a in arrivals if a < opening),
        "seats": seats,
        "seats_sold": sold,
        "sale_seconds": round(sale_seconds, 1),
        "fairness_kendall_tau": tau,
        "fairness_discordant_pairs": discordant_pairs(
            [v.position for v in admitted],  # type: ignore[misc]
            [v.admitted_at for v in admitted],  # type: ignore[misc]
        ),
        "eta_error_p90_pct": round(percentile(errors, 90), 1) if errors else None,
        "eta_error_samples": len(errors),
        "admitted": len(admitted),
        "admitted_twice": sum(1 for tokens_seen in accounts.values() if len(tokens_seen) > 1),
        "bot_max_seats": bot_max,
        "bot_replies": dict(bot_seen),
        "max_tickets_per_buyer": max_tickets,
        "double_sold": kinds["double_booked"]
        + sum(n - 1 for n in Counter(confirmed_seats).values() if n > 1),
        "orphan_charges": kinds["orphan_charge"],
        "invariant_violations": len(violations),
        "violations": [f"{v.kind}: {v.detail}" for v in violations[:20]],
        "checkouts_still_running": still_running,
        "seconds_to_all_terminal": waited,
        "http_5xx": sum(v.http_5xx for v in [*visits, *bot_visits])
        + sum(o.http_5xx for o in outcomes),
        "final_states": dict(Counter(v.final_state for v in visits)),
        "outcomes": dict(Counter(o.result for o in outcomes)),
        "other_failures": dict(
            Counter(f for o in outcomes for f in o.other_failures).most_common(10)
        ),
        "hold": hold,
        "refusal": refusal,
        "hold_p99_ms": hold["p99_ms"],
        "refusal_p99_ms": refusal["p99_ms"],
    }
