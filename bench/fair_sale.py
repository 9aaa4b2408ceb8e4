"""Issue 25's fair on-sale: the flash sale through the waiting room, plus one bot account.

``buyers`` buyers arrive over ``arrival_seconds`` (uniformly, from a seeded generator); the
first ``early_share`` of that time is before the opening, so those buyers wait in the pre-queue.
Each joins the room (``joinQueue``), asks ``queueStatus`` as often as the room suggests (as the
page does without a socket; or, ``waiting="subscribed"``, follows its place on the
``queueUpdates`` subscription as the page does), and once admitted behaves as in the flash sale
(``bench.buyer``: the same shares abandon and decline), its holds carrying the admission.
Unlike the flash sale's buyer, an admitted buyer who finds no seat it can hold does not leave
while its turn lasts: the room tells it held seats may come back, so it looks again every
second until its turn ends.

One bot account joins at the very start (in the pre-queue, like anyone early) from
``bot_clients`` clients at once. While it waits, its clients try to hold with no admission and
with admissions other buyers were given (as if leaked); once admitted, every client holds as
many seats as it can, 10 at a time and then fewer, paying at once, until its turn ends. It must
never get more than ``maxTicketsPerBuyer`` seats, and no hold without its own admission.
The event opens at a set time (the bench flips it ON_SALE as the lifecycle would) with
``maxTicketsPerBuyer`` set.

Measured: what sold (``seats_sold == seats`` is the goal: abandoned holds lapse and go to the
next admitted buyers) and when the last seat sold; the order of admissions against queue
positions (``kendall_tau``); the ETA each buyer was first told after the opening against its
actual wait (``eta_errors_pct``); accounts admitted twice; the bot's seats and refusals; and the
flash sale's invariants.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import text
from temporalio.client import Client

from adapters.payments import TOKEN_APPROVE
from adapters.temporal_converter import DATA_CONVERTER
from bench import room_timeline
from bench.buyer import SEAT_MAP, Call, Outcome, Reply, buy, plan_buyers
from bench.flash_sale import wait_terminal
from bench.http_lane import Lane
from bench.queue_socket import SocketEnded, queue_updates
from bench.stack import (
    BenchStack,
    check_invariants,
    create_users,
    seats_sold,
    seed_event,
)
from bench.stats import percentile, summary_ms

PLACE = """state position etaSeconds expectedTurnAt admission admittedAt admissionExpiresAt
  pollAfterMs"""
# As the page (api/web/views/queue.js): the join's answer is the first place, read at once.
JOIN = f"""mutation Join($eventId: ID!) {{ joinQueue(eventId: $eventId) {{
  success failureReason status {{ {PLACE} }} }} }}"""
STATUS = f"""query Status($eventId: ID!) {{ queueStatus(eventId: $eventId) {{ {PLACE} }} }}"""
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
# An admitted buyer's results that mean "no seat to hold right now": it looks again in its turn.
NOTHING_TO_HOLD = frozenset({"sold_out", "gave_up"})
LOOK_AGAIN_SECONDS = 1.0
WAYS_OF_WAITING = frozenset({"subscribed", "polled"})


class Pool:
    """``size`` keep-alive connections shared by every buyer: a waiting buyer holds none."""

    def __init__(self, urls: Sequence[str], size: int) -> None:
        self._urls = itertools.cycle(urls)
        self._size = size
        self._free: asyncio.Queue[Lane] = asyncio.Queue()
        self._lanes: list[Lane] = []
        # every call: (epoch s asked, ms waiting for a free connection, ms on it, operation)
        self.calls: list[tuple[float, float, float, str]] = []

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
        asked, queued = time.time(), time.perf_counter()
        lane = await self._free.get()
        try:
            began = time.perf_counter()
            status, body, server_ms = await lane.post_json(
                f"{next(self._urls)}/graphql", call.body(), call.headers()
            )
            took = (time.perf_counter() - began) * 1000
            self.calls.append((asked, (began - queued) * 1000, took, call.op))
            return Reply(status, body, took, server_ms)
        finally:
            self._free.put_nowait(lane)


@dataclass
class Visit:
    """One account's time in the room, as its client saw it."""

    user_id: str
    joined_at: float = 0.0
    # After the opening: (time, position, the wait predicted: expectedTurnAt - time, or None)
    first_seen: tuple[float, int, float | None] | None = None
    first_eta_s: int | None = None  # the same prediction in whole seconds (etaSeconds)
    position: int | None = None
    admitted_at: float | None = None  # the server's admission time (epoch seconds)
    noticed_at: float | None = None  # when the buyer first saw its turn (epoch seconds)
    first_hold_at: float | None = None  # when its first hold succeeded (epoch seconds)
    turn_ends: float | None = None  # the admission's expiry (epoch seconds)
    admissions: set[str] = field(default_factory=set)
    final_state: str | None = None
    outcome: Outcome | None = None  # the last attempt's
    attempts: list[Outcome] = field(default_factory=list)  # every attempt in the turn
    http_5xx: int = 0
    updates: int = 0  # statuses the subscription sent
    update_errors: int = 0  # updates it sent with errors instead
    socket_failed: str | None = None  # why the subscription ended early, if it did


def _data(reply: Reply, name: str, visit: Visit) -> Any:
    if reply.status >= 500:
        visit.http_5xx += 1
    body = reply.body or {}
    if reply.status != 200 or body.get("errors"):
        return None
    return (body.get("data") or {}).get(name)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@dataclass(frozen=True)
class Sockets:
    """Where buyers keep their ``queueUpdates`` subscription (None: they poll ``queueStatus``)."""

    session: aiohttp.ClientSession
    ws_urls: Sequence[str]


async def wait_turn(
    pool: Pool, event_id: str, token: str, visit: Visit, sockets: Sockets | None = None
) -> str | None:
    """Joins and waits; the admission once admitted, None when the room says it is over.
    Like the page, it reads its first place from the join's answer, then follows its place on
    the ``queueUpdates`` subscription (with ``sockets``), asking ``queueStatus`` after the
    ``pollAfterMs`` the room suggests only without one or once it fails."""
    joined = _data(
        await pool.call(Call("join", JOIN, {"eventId": event_id}, token)), "joinQueue", visit
    )
    visit.joined_at = time.time()
    if not joined or not joined["success"]:
        visit.final_state = "join_refused"
        return None
    status = joined["status"]
    if status is not None and (over := _turn_or_end(status, visit)) is not None:
        return over or None
    if sockets is not None:
        ws_url = sockets.ws_urls[hash(token) % len(sockets.ws_urls)]
        updates = queue_updates(sockets.session, ws_url, event_id, token, PLACE)
        try:
            async with contextlib.aclosing(updates):
                async for status in updates:
                    if status is None:
                        visit.update_errors += 1
                        continue
                    visit.updates += 1
                    if (over := _turn_or_end(status, visit)) is not None:
                        return over or None
        except (SocketEnded, aiohttp.ClientError, OSError) as failed:
            visit.socket_failed = str(failed)[:120] or type(failed).__name__
        status = None  # the subscription ended early: as the page, poll from here
    while True:
        if status is None:
            await asyncio.sleep(1)
        else:
            if (over := _turn_or_end(status, visit)) is not None:
                return over or None
            await asyncio.sleep(status["pollAfterMs"] / 1000)
        reply = await pool.call(Call("status", STATUS, {"eventId": event_id}, token))
        status = _data(reply, "queueStatus", visit)


def _turn_or_end(status: dict[str, Any], visit: Visit) -> str | None:
    """What a status means for the waiting buyer: its admission (its turn came), "" (the room
    says the wait is over), or None (wait on)."""
    state = status["state"]
    _place_seen(status, visit)
    if state == "ADMITTED":
        visit.admissions.add(status["admission"])
        visit.admitted_at = _epoch(status["admittedAt"])
        visit.noticed_at = time.time()
        visit.turn_ends = _epoch(status["admissionExpiresAt"])
        return str(status["admission"])
    if state in DONE_STATES:
        visit.final_state = state
        return ""
    return None


def _place_seen(status: dict[str, Any], visit: Visit) -> None:
    """Keeps the buyer's position, and the first ETA it was told after the opening."""
    if status["position"] is None:
        return
    visit.position = status["position"]
    if visit.first_seen is None:
        now = time.time()
        expected = status.get("expectedTurnAt")
        wait = None if expected is None else _epoch(expected) - now
        if status["state"] == "ADMITTED":
            wait = 0.0  # the turn came before the buyer first looked
        visit.first_seen = (now, status["position"], wait)
        visit.first_eta_s = status["etaSeconds"]


async def run_buyer(
    pool: Pool,
    event_id: str,
    plan: Any,
    token: str,
    rng: random.Random,
    visit: Visit,
    sockets: Sockets | None = None,
) -> None:
    admission = await wait_turn(pool, event_id, token, visit, sockets)
    if admission is None:
        return
    while True:
        outcome = await _attempt(pool, event_id, plan, token, rng, admission, visit)
        visit.attempts.append(outcome)
        visit.outcome = outcome
        visit.final_state = "bought" if outcome.result == "confirmed" else outcome.result
        turn_ends = visit.turn_ends or 0.0
        if outcome.result not in NOTHING_TO_HOLD or time.time() + LOOK_AGAIN_SECONDS >= turn_ends:
            return
        await asyncio.sleep(LOOK_AGAIN_SECONDS)


async def _attempt(
    pool: Pool,
    event_id: str,
    plan: Any,
    token: str,
    rng: random.Random,
    admission: str,
    visit: Visit,
) -> Outcome:
    """One run of the flash sale's buyer, its holds carrying the admission."""
    steps = buy(plan, event_id, token, rng)
    call = next(steps)
    while True:
        if call.op == "hold":
            call = Call("hold", HOLD_ADMITTED, {**call.variables, "admission": admission}, token)
        reply = await pool.call(call)
        if call.op == "hold" and visit.first_hold_at is None:
            held = ((reply.body or {}).get("data") or {}).get("startCheckout") or {}
            if held.get("success"):
                visit.first_hold_at = time.time()
        try:
            call = steps.send(reply)
        except StopIteration as stop:
            outcome: Outcome = stop.value
            return outcome


BOT_PROBE_SECONDS = 2.0  # how often each waiting bot client tries a hold it has no right to


async def _bot_hold(
    pool: Pool, event_id: str, token: str, visit: Visit, size: int, admission: str | None
) -> tuple[str, str | None]:
    """One hold of up to ``size`` seats the map shows free: (what it was answered, checkout)."""
    reply = await pool.call(Call("seat_map", SEAT_MAP, {"eventId": event_id}, token))
    seats = _data(reply, "availableSeats", visit) or []
    if not seats:
        return "no_seats", None
    chosen = [s["id"] for s in random.sample(seats, min(size, len(seats)))]
    variables = {"eventId": event_id, "seatIds": chosen, "admission": admission}
    held = _data(
        await pool.call(Call("hold", HOLD_ADMITTED, variables, token)), "startCheckout", visit
    )
    if not held:
        return "error", None
    if not held["success"]:
        return str(held["failureReason"]), None
    return "held", held["checkout"]["id"]


async def run_bot_client(
    pool: Pool,
    event_id: str,
    token: str,
    visit: Visit,
    stolen: Callable[[], str | None],
    max_tickets: int,
) -> Counter[str]:
    """One of the bot's clients (every one the same account). While the account waits, it
    tries holds with no admission and with another buyer's; once admitted, it holds as many
    seats as it can, 10 at a time, then the limit, 2 and 1, paying each at once, until the
    turn ends. Answers are counted as ``<when>:<answer>``."""
    seen: Counter[str] = Counter()
    waiting = asyncio.create_task(wait_turn(pool, event_id, token, visit))
    probes = itertools.cycle(("no_admission", "stolen_admission"))
    while not waiting.done():
        kind = next(probes)
        admission = stolen() if kind == "stolen_admission" else None
        if kind == "no_admission" or admission is not None:
            answer, checkout_id = await _bot_hold(pool, event_id, token, visit, 4, admission)
            seen[f"{kind}:{answer}"] += 1
            if checkout_id is not None:  # a breach: paid for, so it shows in bot_max_seats
                await pool.call(Call("pay", PAY, _pay(checkout_id), token))
        await asyncio.wait({waiting}, timeout=BOT_PROBE_SECONDS)
    admission = await waiting
    if admission is None:
        return seen
    sizes = itertools.cycle((10, max_tickets, 2, 1))
    while time.time() < (visit.turn_ends or 0.0):
        answer, checkout_id = await _bot_hold(pool, event_id, token, visit, next(sizes), admission)
        seen[f"admitted:{answer}"] += 1
        if checkout_id is not None:
            await pool.call(Call("pay", PAY, _pay(checkout_id), token))
        elif answer == "NOT_ADMITTED":
            return seen  # the turn is over
        elif answer == "no_seats":
            reply = await pool.call(Call("status", STATUS, {"eventId": event_id}, token))
            if (_data(reply, "queueStatus", visit) or {}).get("state") in DONE_STATES:
                return seen
            await asyncio.sleep(0.5)
        else:
            await asyncio.sleep(0.05)
    return seen


def _pay(checkout_id: str) -> dict[str, str]:
    return {"checkoutId": checkout_id, "paymentToken": TOKEN_APPROVE}


def _pair_counts(xs: Sequence[float], ys: Sequence[float]) -> tuple[int, int, int, int, int]:
    """(concordant, discordant, tied in x only, tied in y only, tied in both) over all pairs."""
    concordant = discordant = tied_x = tied_y = tied_both = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            if dx == 0 and dy == 0:
                tied_both += 1
            elif dx == 0:
                tied_x += 1
            elif dy == 0:
                tied_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    return concordant, discordant, tied_x, tied_y, tied_both


def kendall_tau(positions: Sequence[float], admitted_at: Sequence[float]) -> float | None:
    """How far admission order follows queue order: Kendall's tau over the pairs of admitted
    buyers that the room ordered, (concordant - discordant) / (concordant + discordant).

    ``positions`` are the buyers' queue positions after the opening's shuffle (a position never
    moves once the sale is open); ``admitted_at`` is the moment the server gave each turn, exact
    to the millisecond and the same for every buyer of one admission batch (one move of the
    room's cursor, ``adapters/waiting_room.py``, which gives the next consecutive positions at
    once). A pair admitted in the same batch has no order between them, so it is neither fair
    nor unfair and is left out (with ties left out this is Goodman and Kruskal's gamma). A pair
    admitted in different batches counts: concordant if the one ahead in the queue was
    admitted first, discordant if the one behind was. 1.0 means nobody was ever admitted
    before anyone ahead; ``discordant_pairs`` counts the exceptions. ``kendall_tau_b`` gives
    the same pairs' tau-b, which counts every batch's own pairs against the room, beside it.
    """
    concordant, discordant, *_ = _pair_counts(positions, admitted_at)
    pairs = concordant + discordant
    return None if pairs == 0 else round((concordant - discordant) / pairs, 4)


def kendall_tau_b(positions: Sequence[float], admitted_at: Sequence[float]) -> float | None:
    """Kendall's tau-b: ties in either ranking shrink the figure (batches count as ties)."""
    concordant, discordant, tied_x, tied_y, _ = _pair_counts(positions, admitted_at)
    denominator = ((concordant + discordant + tied_x) * (concordant + discordant + tied_y)) ** 0.5
    return None if denominator == 0 else round((concordant - discordant) / denominator, 4)


def discordant_pairs(xs: Sequence[float], ys: Sequence[float]) -> int:
    """Pairs admitted against their queue order: the one behind admitted strictly first."""
    pairs = sorted(zip(xs, ys, strict=True))
    return sum(
        1
        for i in range(len(pairs))
        for j in range(i + 1, len(pairs))
        if pairs[i][0] < pairs[j][0] and pairs[i][1] > pairs[j][1]
    )


def _after(moment: float | None, since: float) -> float | None:
    return None if moment is None else round(moment - since, 2)


def eta_errors_pct(visits: Sequence[Visit], whole_seconds: bool = False) -> list[float]:
    """|predicted - actual wait| / actual, in %, for admitted buyers, from the first status each
    was given after the opening: the turn's expected time (``expectedTurnAt``) less the moment
    the status came, or, ``whole_seconds``, the ``etaSeconds`` it showed (waits under a second
    are left out). A buyer first told no ETA (no seat in sight for its turn) predicted nothing
    and is left out too; ``eta_missing`` counts them, so the figure cannot hide behind them."""
    errors = []
    for v in visits:
        if v.first_seen is None or v.admitted_at is None or v.first_seen[2] is None:
            continue
        seen_at, _, wait = v.first_seen
        predicted = float(v.first_eta_s if whole_seconds and v.first_eta_s is not None else wait)
        actual = v.admitted_at - seen_at
        if actual >= 1.0:
            errors.append(abs(predicted - actual) / actual * 100)
    return errors


def eta_by_position(visits: Sequence[Visit], groups: int = 5) -> list[dict[str, Any]]:
    """The ETA's error by where buyers stood when first told one (fifths of the queue): the
    predicted and actual waits' medians and the error's p90, so a miss shows its place."""
    told = sorted(
        (v.first_seen[1], float(v.first_seen[2]), v.admitted_at - v.first_seen[0])
        for v in visits
        if v.first_seen is not None and v.admitted_at is not None and v.first_seen[2] is not None
    )
    rows = []
    for g in range(groups):
        part = told[g * len(told) // groups : (g + 1) * len(told) // groups]
        if not part:
            continue
        errors = [abs(eta - actual) / actual * 100 for _, eta, actual in part if actual >= 1.0]
        rows.append(
            {
                "positions": f"{part[0][0]}-{part[-1][0]}",
                "predicted_p50_s": round(percentile([eta for _, eta, _ in part], 50), 1),
                "actual_p50_s": round(percentile([actual for _, _, actual in part], 50), 1),
                "error_p90_pct": round(percentile(errors, 90), 1) if errors else None,
            }
        )
    return rows


def calls_by_phase(
    calls: Sequence[tuple[float, float, float, str]], opened_at: float, seconds: float = 10.0
) -> list[dict[str, Any]]:
    """The buyers' calls by when they were asked (``seconds`` apart from the opening; before it,
    one row): how many a second, and the p50/p90 of the wait for a free connection and of the
    call itself, in ms; how many of each operation. What a buyer's turn waits to be noticed is
    mostly these."""
    phases: dict[int, list[tuple[float, float]]] = {}
    ops: dict[int, Counter[str]] = {}
    for asked, queued_ms, took_ms, op in calls:
        phase = max(-1, math.floor((asked - opened_at) / seconds))
        phases.setdefault(phase, []).append((queued_ms, took_ms))
        ops.setdefault(phase, Counter())[op] += 1
    rows = []
    for phase, timings in sorted(phases.items()):
        queued = [q for q, _ in timings]
        took = [t for _, t in timings]
        span = seconds if phase >= 0 else None
        rows.append(
            {
                "from_s": phase * seconds if phase >= 0 else None,
                "per_s": round(len(timings) / span, 1) if span else None,
                "queued_p50_ms": round(percentile(queued, 50)),
                "queued_p90_ms": round(percentile(queued, 90)),
                "call_p50_ms": round(percentile(took, 50)),
                "call_p90_ms": round(percentile(took, 90)),
                "calls": dict(ops[phase].most_common()),
            }
        )
    return rows


def eta_missing(visits: Sequence[Visit]) -> int:
    """Admitted buyers whose first status after the opening gave no ETA."""
    return sum(
        1
        for v in visits
        if v.first_seen is not None and v.admitted_at is not None and v.first_seen[2] is None
    )


def seconds_sold(engine: Any, event_id: str, since: float) -> list[float]:
    """When each seat sold (its booking's confirm), in seconds after ``since``, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT extract(epoch FROM b.created_at) FROM booking_seats bs "
                "JOIN bookings b ON b.id = bs.booking_id "
                "WHERE b.event_id = :e AND bs.released_at IS NULL ORDER BY 1"
            ),
            {"e": event_id},
        ).scalars()
        return [round(float(at) - since, 2) for at in rows]


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
    waiting: str = "polled",
) -> dict[str, Any]:
    """``waiting``: how buyers follow their place, "polled" (``queueStatus`` at the room's
    ``pollAfterMs``: the page without a socket) or "subscribed" (the page's ``queueUpdates``).
    Polled is the bench's figure: on one API process sharing two cores with the sale, ten
    thousand sockets opened in ten seconds starved the holds (``docs/measurements.md``)."""
    if waiting not in WAYS_OF_WAITING:
        raise ValueError(f"waiting is one of {sorted(WAYS_OF_WAITING)}, not {waiting!r}")
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
            pool,
            event.event_id,
            plans[i],
            tokens[i],
            random.Random(seed * 7 + i),
            visits[i],
            sockets,
        )

    async def opener() -> None:
        await asyncio.sleep(max(0.0, began + opening - time.time()))
        await asyncio.to_thread(open_sale, bench.engine, event.event_id)

    def stolen() -> str | None:
        """An admission another buyer was given, as if it had leaked to the bot."""
        given = [token for v in visits for token in v.admissions]
        return random.choice(given) if given else None

    async with (
        Pool(api_urls, clients) as pool,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        ws_urls = [url.replace("http://", "ws://") + "/graphql" for url in api_urls]
        sockets = Sockets(session, ws_urls) if waiting == "subscribed" else None
        # The bot first: it joins at the very start, before any buyer.
        bots = [
            asyncio.create_task(
                run_bot_client(pool, event.event_id, bot_token, v, stolen, max_tickets)
            )
            for v in bot_visits
        ]
        tasks = [asyncio.create_task(buyer(i)) for i in range(buyers)]
        opened = asyncio.create_task(opener())
        await opened
        opened_at = time.time()
        over = asyncio.Event()
        timeline = asyncio.create_task(
            room_timeline.record(
                bench.stack.redis_url,
                bench.engine,
                bench.redis_prefix,
                event.event_id,
                opened_at,
                over,
            )
        )
        bot_seen = Counter[str]()
        for counted in await asyncio.gather(*bots):
            bot_seen += counted
        await asyncio.gather(*tasks)
        over.set()
        readings = await timeline
    sale_seconds = time.time() - opened_at
    still_running, waited = await wait_terminal(client, event.event_id, hold_seconds * 2 + 120)
    await asyncio.sleep(2)  # past the seat-map cache's staleness bound
    violations = await check_invariants(bench, client, [event.event_id], with_seat_map=True)
    sold = await asyncio.to_thread(seats_sold, bench.engine, event.event_id)
    sold_at = await asyncio.to_thread(seconds_sold, bench.engine, event.event_id, opened_at)
    bot_max = await asyncio.to_thread(bot_seats, bench.engine, event.event_id, bot_id)

    outcomes = [v.outcome for v in visits if v.outcome is not None]  # each buyer's last
    attempts = [o for v in visits for o in v.attempts]
    kinds = Counter(v.kind for v in violations)
    confirmed_seats = [s for o in outcomes if o.result == "confirmed" for s in o.seats]
    admitted = [v for v in visits if v.admitted_at is not None and v.position is not None]
    positions = [float(v.position or 0) for v in admitted]
    moments = [v.admitted_at or 0.0 for v in admitted]
    errors = eta_errors_pct(visits)
    whole_second_errors = eta_errors_pct(visits, whole_seconds=True)
    hold = summary_ms([ms for o in attempts for ms in o.hold_ms])
    refusal = summary_ms([ms for o in attempts for ms in o.refusal_ms])
    bot_position = next((v.position for v in bot_visits if v.position is not None), None)
    accounts: dict[str, set[str]] = {}
    for v in [*visits, *bot_visits]:
        accounts.setdefault(v.user_id, set()).update(v.admissions)
    return {
        "event_id": event.event_id,
        "buyers": buyers,
        "clients": clients,
        "waiting": waiting,
        # what the buyers' subscriptions sent, and why any ended before the wait did
        "updates_received": sum(v.updates for v in visits),
        "update_errors": sum(v.update_errors for v in visits),
        "sockets_failed": dict(Counter(v.socket_failed for v in visits if v.socket_failed)),
        "hold_seconds": hold_seconds,
        "turn_seconds": turn_seconds,
        "arrival_seconds": arrival_seconds,
        "joined_before_opening": sum(1 for a in arrivals if a < opening),
        "seats": seats,
        "seats_sold": sold,
        "sale_seconds": round(sale_seconds, 1),
        # when seats sold, from the opening: the last one is when the room's work was done;
        # sale_seconds adds the time the last waiting buyers took to hear it was sold out
        "last_seat_sold_s": sold_at[-1] if sold_at else None,
        "half_seats_sold_s": sold_at[len(sold_at) // 2] if sold_at else None,
        "seats_sold_at_s": sold_at,
        "fairness_kendall_tau": kendall_tau(positions, moments),
        "fairness_kendall_tau_b": kendall_tau_b(positions, moments),
        "fairness_discordant_pairs": discordant_pairs(positions, moments),
        "admission_batches": len(set(moments)),
        "eta_error_p90_pct": round(percentile(errors, 90), 1) if errors else None,
        "eta_error_p50_pct": round(percentile(errors, 50), 1) if errors else None,
        # the same forecasts as the buyers' etaSeconds showed them, rounded to whole seconds
        "eta_seconds_error_p90_pct": (
            round(percentile(whole_second_errors, 90), 1) if whole_second_errors else None
        ),
        "eta_error_samples": len(errors),
        "eta_missing": eta_missing(visits),
        "eta_by_position": eta_by_position(visits),
        "calls_by_phase": calls_by_phase(pool.calls, opened_at),
        # the same a second at a time: how the crush's queue builds and drains (what a turn
        # given then waits to be noticed), for modelling it against the room's timeline
        "calls_by_second": calls_by_phase(pool.calls, opened_at, seconds=1.0),
        # each admitted buyer's first status after the opening: where the ETA's misses are
        "eta_told": [
            {
                "position": v.first_seen[1],
                "seen_s": round(v.first_seen[0] - opened_at, 1),
                "eta_s": v.first_eta_s,
                "expected_s": None if v.first_seen[2] is None else round(v.first_seen[2], 2),
                "waited_s": round(v.admitted_at - v.first_seen[0], 1),
                # after the turn: when the buyer saw it, and when its first hold succeeded
                "noticed_after_s": _after(v.noticed_at, v.admitted_at),
                "held_after_s": _after(v.first_hold_at, v.admitted_at),
            }
            for v in sorted(admitted, key=lambda v: v.position or 0)
            if v.first_seen is not None and v.admitted_at is not None
        ],
        # the room's state every half second: what each ETA was made of (bench/room_timeline.py)
        "room_timeline": readings,
        "admitted": len(admitted),
        "admitted_twice": sum(1 for tokens_seen in accounts.values() if len(tokens_seen) > 1),
        "bot_position": bot_position,
        "bot_admitted": any(v.admitted_at is not None for v in bot_visits),
        "bot_max_seats": bot_max,
        "bot_held_without_own_admission": sum(
            n
            for answer, n in bot_seen.items()
            if answer in ("no_admission:held", "stolen_admission:held")
        ),
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
        + sum(o.http_5xx for o in attempts),
        "final_states": dict(Counter(v.final_state for v in visits)),
        "outcomes": dict(Counter(o.result for o in outcomes)),
        "other_failures": dict(
            Counter(f for o in attempts for f in o.other_failures).most_common(10)
        ),
        "hold": hold,
        "refusal": refusal,
        "hold_p99_ms": hold["p99_ms"],
        "refusal_p99_ms": refusal["p99_ms"],
    }
