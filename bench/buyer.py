"""One flash-sale buyer's behaviour, shared by the benchmark (asyncio + aiohttp) and locust.

The behaviour is a generator that yields the GraphQL calls it wants made and receives each
reply, so it knows nothing about the transport: the benchmark drives it from asyncio, locust
from its gevent ``HttpSession``. A buyer:

1. registers (or arrives with a token minted for a pre-made account),
2. reads the seat map and picks 1-4 adjacent seats (same row, consecutive numbers; fewer when no
   such run is left), avoiding seats it has already been told are taken,
3. holds them in one round trip (``startCheckout``),
4. pays (``submitPayment`` waits for the saga's terminal state) with the approving card, or with
   the declining one; or abandons the hold (it then expires on the saga's timer),
5. when refused (seats taken, hold expired, seats lost at confirm) tries again with other seats,
   up to ``max_attempts`` holds, then gives up; a sold-out seat map ends it at once.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from adapters.payments import TOKEN_APPROVE, TOKEN_DECLINE

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { token user { id } }
}"""
SEAT_MAP = """
query SeatMap($eventId: ID!) {
  availableSeats(eventId: $eventId) { id section row number }
}"""
# `checkout { id }` is resolved by querying the workflow: only a successful hold needs it.
HOLD = """
mutation Hold($eventId: ID!, $seatIds: [ID!]!) {
  startCheckout(eventId: $eventId, seatIds: $seatIds) {
    success failureReason takenSeatIds checkout { id }
  }
}"""
PAY = """
mutation Pay($checkoutId: ID!, $paymentToken: String) {
  submitPayment(checkoutId: $checkoutId, paymentToken: $paymentToken) {
    success failureReason checkout { status bookingReference seatIds }
  }
}"""
PASSWORD = "flash-sale-password-1"
SEATS_TAKEN = "SEATS_UNAVAILABLE"
_APP_DURATION = re.compile(r"(?:^|,)\s*app\s*;(?:[^,]*;)?\s*dur=([0-9.]+)")


def app_ms(server_timing: str | None) -> float | None:
    """The API's own milliseconds for a request, from its ``Server-Timing: app;dur=...``."""
    found = _APP_DURATION.search(server_timing or "")
    return float(found.group(1)) if found else None


@dataclass(frozen=True)
class Call:
    op: str  # register | seat_map | hold | pay: the name timings are grouped by
    query: str
    variables: dict[str, Any]
    token: str | None

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None  # the decoded JSON, None when it was not JSON
    ms: float
    server_ms: float | None = None  # the API's own part of ``ms`` (its Server-Timing header)


@dataclass(frozen=True)
class BuyerPlan:
    index: int
    wants: int  # 1-4 adjacent seats
    abandons: bool  # holds, then walks away without paying
    declines: bool  # pays with the declining test card
    registers: bool  # registers through the API instead of using a minted token
    max_attempts: int = 3


@dataclass
class Outcome:
    result: str = "gave_up"  # confirmed | declined | abandoned | sold_out | gave_up | error
    checkout_ids: list[str] = field(default_factory=list)
    seats: list[str] = field(default_factory=list)  # confirmed seats
    hold_ms: list[float] = field(default_factory=list)  # holds that succeeded
    refusal_ms: list[float] = field(default_factory=list)  # holds refused: seats taken
    refusal_inside_api_ms: list[float] = field(default_factory=list)  # the API's part of those
    pay_ms: list[float] = field(default_factory=list)  # payment to terminal state
    seat_map_ms: list[float] = field(default_factory=list)
    abandoned_seats: list[str] = field(default_factory=list)  # of the hold walked away from
    finished_at: float = 0.0  # wall-clock time the buyer left (set by the driver)
    other_failures: list[str] = field(default_factory=list)  # reason codes, errors
    http_5xx: int = 0


def plan_buyers(
    n: int,
    seed: int,
    abandon_share: float = 0.1,
    decline_share: float = 0.1,
    register_share: float = 0.0,
    max_attempts: int = 3,
) -> list[BuyerPlan]:
    """``n`` buyers; the shares are drawn independently per buyer from a seeded generator."""
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        abandons = rng.random() < abandon_share
        plans.append(
            BuyerPlan(
                index=i,
                wants=rng.randint(1, 4),
                abandons=abandons,
                declines=not abandons and rng.random() < decline_share,
                registers=rng.random() < register_share,
                max_attempts=max_attempts,
            )
        )
    return plans


def pick_seats(
    seats: list[dict[str, Any]], wants: int, avoid: set[str], rng: random.Random
) -> list[str]:
    """A random run of ``wants`` adjacent seats (same section and row, consecutive numbers);
    the longest run available when there is none that long; [] when nothing is left."""
    rows: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for seat in seats:
        if seat["id"] not in avoid:
            rows[(seat["section"], seat["row"])].append((int(seat["number"]), seat["id"]))
    ordered = [sorted(row) for row in rows.values()]
    for size in range(wants, 0, -1):
        # Where each run starts, in row order; only the chosen one is built. The load
        # generator plays 200 buyers in one process, and this ran for every seat map read.
        starts = [
            (row, start)
            for row in ordered
            for start in range(len(row) - size + 1)
            if row[start + size - 1][0] - row[start][0] == size - 1
        ]
        if starts:
            row, start = rng.choice(starts)
            return [seat_id for _, seat_id in row[start : start + size]]
    return []


def _data(reply: Reply, field_name: str, outcome: Outcome) -> Any:
    """The mutation's or query's payload; None (and the failure counted) on any error."""
    if reply.status >= 500:
        outcome.http_5xx += 1
    body = reply.body or {}
    errors = body.get("errors")
    if reply.status != 200 or errors:
        code = (errors or [{}])[0].get("extensions", {}).get("code", f"HTTP_{reply.status}")
        outcome.other_failures.append(f"{field_name}:{code}")
        return None
    return (body.get("data") or {}).get(field_name)


def buy(
    plan: BuyerPlan, event_id: str, token: str | None, rng: random.Random
) -> Generator[Call, Reply, Outcome]:
    """The buyer's calls, one at a time; ``send`` each reply; the return value is the outcome."""
    outcome = Outcome()
    if plan.registers or token is None:
        email = f"buyer-{uuid.uuid4().hex[:16]}@bench.test"
        variables = {
            "input": {
                "email": email,
                "password": PASSWORD,
                "firstName": "Flash",
                "lastName": "Buyer",
            }
        }
        reply = yield Call("register", REGISTER, variables, None)
        registered = _data(reply, "register", outcome)
        if not registered:
            outcome.result = "error"
            return outcome
        token = registered["token"]
    avoid: set[str] = set()
    for _ in range(plan.max_attempts):
        reply = yield Call("seat_map", SEAT_MAP, {"eventId": event_id}, token)
        outcome.seat_map_ms.append(reply.ms)
        seats = _data(reply, "availableSeats", outcome)
        if seats is None:
            continue
        chosen = pick_seats(seats, plan.wants, avoid, rng)
        if not chosen:
            outcome.result = "sold_out" if not seats else "gave_up"
            return outcome
        reply = yield Call("hold", HOLD, {"eventId": event_id, "seatIds": chosen}, token)
        held = _data(reply, "startCheckout", outcome)
        if held is None:
            continue
        if not held["success"]:
            if held.get("failureReason") == SEATS_TAKEN:
                outcome.refusal_ms.append(reply.ms)
                if reply.server_ms is not None:
                    outcome.refusal_inside_api_ms.append(reply.server_ms)
            else:
                outcome.other_failures.append(f"hold:{held.get('failureReason')}")
            avoid.update(held.get("takenSeatIds") or chosen)
            continue
        outcome.hold_ms.append(reply.ms)
        checkout_id = held["checkout"]["id"]
        outcome.checkout_ids.append(checkout_id)
        if plan.abandons:
            outcome.result = "abandoned"
            outcome.abandoned_seats = list(chosen)
            return outcome
        card = TOKEN_DECLINE if plan.declines else TOKEN_APPROVE
        reply = yield Call("pay", PAY, {"checkoutId": checkout_id, "paymentToken": card}, token)
        paid = _data(reply, "submitPayment", outcome)
        if paid is None:
            continue
        outcome.pay_ms.append(reply.ms)
        if paid["success"]:
            outcome.result = "confirmed"
            outcome.seats = list(paid["checkout"]["seatIds"])
            return outcome
        if paid.get("failureReason") == "PAYMENT_DECLINED":
            outcome.result = "declined"
            return outcome
        outcome.other_failures.append(f"pay:{paid.get('failureReason')}")
        avoid.update(chosen)
    return outcome
