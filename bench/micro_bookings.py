"""Micro-benchmark of the booking transaction: confirms per second at a given concurrency.

Each run seeds a fresh event with enough seats for ``n`` bookings of 1-4 seats each, on
disjoint seats, so the figure is the cost of the guarded transaction itself (sorted row locks,
conditional update, inserts), not of losing races.

    python -m bench.micro_bookings --database-url postgresql://postgres@127.0.0.1:5432/postgres

The URL names a server; the benchmark creates a scratch database there, migrates it, runs at
concurrency 1 and 16, prints JSON and drops the database.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert

from adapters.bookings import PostgresBookingStore
from adapters.db import make_engine
from adapters.migrate import upgrade
from adapters.orm import Event, EventSeat, Seat, User, Venue
from devstack.databases import create_database, drop_database
from devstack.services import MACHINE_POSTGRES
from domain import pricing
from domain.errors import DomainError
from domain.model import ConfirmRequest

BASE_PRICE = Decimal("42.50")
MODIFIERS = (Decimal("1.000"), Decimal("1.250"), Decimal("0.750"))


def _seed(engine: Engine, n_seats: int) -> tuple[str, str, list[tuple[str, Decimal]]]:
    """A venue, an ON_SALE event over all its seats, a user: (event, user, [(seat, price)])."""
    venue, event, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    seats = [(uuid.uuid4(), MODIFIERS[i % len(MODIFIERS)]) for i in range(n_seats)]
    with engine.begin() as conn:
        conn.execute(
            insert(Venue).values(
                id=venue, name=f"bench-{venue}", address="-", total_capacity=n_seats
            )
        )
        conn.execute(
            insert(Seat),
            [
                {
                    "id": s,
                    "venue_id": venue,
                    "section": "B",
                    "row": str(i // 100),
                    "number": i % 100,
                    "price_modifier": m,
                }
                for i, (s, m) in enumerate(seats)
            ],
        )
        conn.execute(
            insert(Event).values(
                id=event,
                venue_id=venue,
                name="bench",
                status="ON_SALE",
                base_price=BASE_PRICE,
                currency="USD",
                max_capacity=n_seats,
                event_date=datetime.now(UTC) + timedelta(days=7),
            )
        )
        conn.execute(insert(EventSeat), [{"event_id": event, "seat_id": s} for s, _ in seats])
        conn.execute(
            insert(User).values(
                id=user,
                email=f"bench-{user}@example.test",
                first_name="B",
                last_name="B",
                password_hash="-",
            )
        )
    priced = [(str(s), pricing.seat_price(BASE_PRICE, m)) for s, m in seats]
    return str(event), str(user), priced


def _requests(engine: Engine, n: int, seed: int) -> list[ConfirmRequest]:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 4) for _ in range(n)]
    event, user, seats = _seed(engine, sum(sizes))
    rng.shuffle(seats)
    requests, start = [], 0
    for size in sizes:
        chosen = seats[start : start + size]
        start += size
        requests.append(
            ConfirmRequest(
                checkout_id=str(uuid.uuid4()),
                user_id=user,
                event_id=event,
                seat_ids=tuple(s for s, _ in chosen),
                total=pricing.total(p for _, p in chosen),
                currency="USD",
            )
        )
    return requests


def run(engine: Engine, concurrency: int, n: int) -> dict[str, Any]:
    """Confirms ``n`` bookings from ``concurrency`` threads; returns throughput and latency."""
    requests = _requests(engine, n, seed=concurrency)
    store = PostgresBookingStore(engine)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    guard = threading.Lock()
    cursor = iter(requests)

    def worker() -> None:
        while True:
            with guard:
                request = next(cursor, None)
            if request is None:
                return
            began = time.perf_counter()
            try:
                store.confirm(request)
                outcome = None
            except DomainError as exc:
                outcome = exc.code.value
            elapsed = time.perf_counter() - began
            with guard:
                latencies.append(elapsed)
                if outcome:
                    errors[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ms = sorted(x * 1000 for x in latencies)
    seats = sum(len(r.seat_ids) for r in requests)
    return {
        "concurrency": concurrency,
        "bookings": n,
        "seats": seats,
        "seconds": round(wall, 3),
        "confirms_per_s": round(n / wall, 1),
        "seats_per_s": round(seats / wall, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
        "errors": dict(errors),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=MACHINE_POSTGRES, help="PostgreSQL server URL")
    parser.add_argument("--n", type=int, default=1000, help="bookings per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args(argv)

    name = f"tb_bench_{uuid.uuid4().hex[:10]}"
    url = create_database(args.database_url, name)
    engine = make_engine(url, pool_size=max(args.concurrency) + 2, max_overflow=0)
    try:
        upgrade(url)
        run(engine, 4, 50)  # warm the pool and the plan cache
        results = [run(engine, c, args.n) for c in args.concurrency]
    finally:
        engine.dispose()
        drop_database(args.database_url, name)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
