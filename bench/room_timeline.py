"""The waiting room as its controller saw it, sampled through a sale: what the ETAs came from.

Every ``period`` seconds from the opening it reads the room's own state (``adapters/
waiting_room.py``'s keys: the cursor, the unused turns' deadlines, what turns took, the pace,
the forecast every buyer's ETA is read from) and what the forecast is made of (seats sold,
the live held seats' expiries). With each buyer's first ETA and actual wait
(``fair_sale.eta_told``) it shows where a forecast missed and why, and lets a new forecast be
tried against the same sale offline (``replay``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import redis

from adapters.seat_claims import GRANT, claims_key
from adapters.waiting_room import hold_delays, payments_by_second
from adapters.waiting_room_service import room_forecast, room_measured_returns, room_returns
from bench.stack import seats_sold
from bench.stats import percentile
from config.settings import Settings
from domain import waiting_room as rules

EVERY_POSITION = 10**6  # the replay forecasts every turn a recorded buyer could have waited for
FIELDS = (
    "admitted",
    "capacity",
    "rate",
    "pace",
    "lost",
    "turns_used",
    "turn_seats",
    "ended",
    "tick_gap_ms",
    "order_size",
    "completions_per_s",
    "hold_ms",
    "credit",
    "plan",
)


def sample(client: redis.Redis, engine: Any, prefix: str, event_id: str, opened_at: float) -> dict:
    """One reading: times in ms from the opening; held seats as {expiry ms: seats}."""
    now = time.time()
    room = f"{prefix}wr:{event_id}:"
    meta = client.hmget(room + "meta", list(FIELDS))
    turns = client.zrange(room + "turns", 0, -1, withscores=True)
    delays = client.hgetall(room + "delays")
    payments = client.hgetall(room + "payments")
    grants = client.hgetall(claims_key(prefix, event_id))
    held: Counter[int] = Counter()
    for name, value in grants.items():
        if name.startswith(GRANT.encode()):
            held[int(value.rpartition(b"|")[2]) * 1000 - int(opened_at * 1000)] += 1
    reading: dict[str, Any] = {
        name: (None if value is None else value.decode())
        for name, value in zip(FIELDS, meta, strict=True)
    }
    reading |= {
        "t_ms": int((now - opened_at) * 1000),
        "unused_deadlines_ms": sorted(int(score - opened_at * 1000) for _, score in turns),
        "held_expiries_ms": dict(sorted(held.items())),
        "hold_delays": {int(bucket): int(count) for bucket, count in delays.items()},
        # the payments answered, by the epoch second they were submitted: (second, paid,
        # declined), and the reading's epoch ms to settle them by
        "payments": [list(second) for second in payments_by_second(payments)],
        "epoch_ms": int(now * 1000),
        "sold": seats_sold(engine, event_id),
    }
    return reading


async def record(
    redis_url: str,
    engine: Any,
    prefix: str,
    event_id: str,
    opened_at: float,
    done: asyncio.Event,
    period: float = 0.5,
) -> list[dict]:
    """Samples until ``done`` is set."""
    client = redis.Redis.from_url(redis_url)
    readings = []
    try:
        while not done.is_set():
            readings.append(
                await asyncio.to_thread(sample, client, engine, prefix, event_id, opened_at)
            )
            try:
                await asyncio.wait_for(done.wait(), period)
            except TimeoutError:
                pass
    finally:
        client.close()
    return readings


def recomputed(reading: dict, seats: int, settings: Settings) -> rules.Forecast:
    """The forecast the room's current rules make from a reading, as the controller's tick
    does (``adapters/waiting_room_service.py``), this tick's admissions aside: change
    ``domain.waiting_room_forecast`` and replay a recorded sale to see what it does."""
    held = [int(at) for at, n in reading["held_expiries_ms"].items() for _ in range(n)]
    rate = float(reading["rate"] or settings.waiting_room_min_rate)
    order_size = reading["order_size"]
    opening = reading["admitted"] is None  # the opening's forecast: one second's credit
    return room_forecast(
        settings,
        now_ms=reading["t_ms"],
        rate=rate,
        # the pace's credit left after the tick (recorded since the replay read it; before,
        # none): without it the replay put the first turns up to its two seconds' worth late
        credit=rate if opening else float(reading.get("credit") or 0.0),
        available=max(0, seats - reading["sold"] - len(held)),
        held_expiries_ms=held,
        unused_deadlines_ms=reading["unused_deadlines_ms"],
        used=(
            int(float(reading["turns_used"] or 0)),
            int(float(reading["turn_seats"] or 0)),
            None if order_size is None else float(order_size),
        ),
        # recorded since turns' ends were counted; before, no turn counts as decided
        ended=(int(float(reading["lost"] or 0)), int(float(reading.get("ended") or 0))),
        tick_gap_ms=None if reading.get("tick_gap_ms") is None else float(reading["tick_gap_ms"]),
        sellable_seats=seats,
        waiting=EVERY_POSITION,
        hold_delays_ms=hold_delays(reading.get("hold_delays", {})),
        # recorded since the forecast read it; before, as if never measured
        hold_latency_ms=None if reading.get("hold_ms") is None else float(reading["hold_ms"]),
        how=_returns(reading, settings),
    )


def _returns(reading: dict, settings: Settings) -> rules.Returns:
    """How held seats came back as the tick measured them; a reading recorded before payments
    were counted by the second submitted has the answered totals."""
    if "payments" in reading:
        answered = [tuple(second) for second in reading["payments"]]
        return room_measured_returns(settings, answered, reading["epoch_ms"])
    return rules.measured_returns(
        room_returns(settings),
        int(float(reading.get("failed_seats") or 0)),
        int(float(reading.get("paid_seats") or 0)),
    )


def replay(fair: dict, settings: Settings) -> dict[str, Any]:
    """Each admitted buyer's first ETA again, from the reading just before it was told: by the
    forecast the room had recorded and by ``recomputed``; the errors' p50/p90 (in %), as the
    bench counts them (the forecast's own time, waits under a second left out)."""
    readings = fair["room_timeline"]
    errors: dict[str, list[float]] = {"recorded": [], "recomputed": []}
    for told in fair["eta_told"]:
        if told["eta_s"] is None or told["waited_s"] < 1.0:
            continue
        seen_ms = int(told["seen_s"] * 1000)
        before = [r for r in readings if r["t_ms"] <= seen_ms and r["plan"]]
        if not before:
            continue
        reading = before[-1]
        turn = told["position"] - int(reading["admitted"] or 0)
        actual = told["waited_s"] + (seen_ms - reading["t_ms"]) / 1000
        for name, plan in (
            ("recorded", rules.Forecast.decode(reading["plan"])),
            ("recomputed", recomputed(reading, fair["seats"], settings)),
        ):
            at = None if plan is None or turn < 1 else plan.turn_ms(turn)
            if at is not None and plan is not None:
                eta = (at - plan.at_ms) / 1000  # epoch ms or ms from the opening
                errors[name].append(abs(eta - actual) / actual * 100)
    return {
        name: {"n": len(e), "p50": round(percentile(e, 50), 1), "p90": round(percentile(e, 90), 1)}
        for name, e in errors.items()
        if e
    }


if __name__ == "__main__":
    import json
    import sys

    from bench.__main__ import FAIR_PAY_SECONDS

    # python -m bench.room_timeline bench/results/latest.json: the bench's settings for the sale
    fair = json.loads(open(sys.argv[1]).read())["sections"]["fair"]
    print(
        replay(
            fair,
            Settings(hold_seconds=fair["hold_seconds"], waiting_room_pay_seconds=FAIR_PAY_SECONDS),
        )
    )
