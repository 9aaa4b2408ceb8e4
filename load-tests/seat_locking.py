"""Interactive flash-sale load with locust, running the benchmark's own buyer (bench/buyer.py).

    make dev        # in another shell: API on :8000 with demo data
    .venv/bin/locust -f load-tests/seat_locking.py --host http://127.0.0.1:8000

Each locust user is a stream of buyers: register, read the seat map, hold 1-4 adjacent seats,
pay (some decline, some abandon), retry with other seats when refused. The event is
``EVENT_ID`` if set, else the ON_SALE event with the most seats (the demo's 5,100-seat arena).
Requests are grouped by step (register, seat_map, hold, pay); GraphQL errors and HTTP 5xx count
as failures, a refused hold or a declined card does not (they are answers). ``make dev`` allows
120,000 requests a minute per IP, since every local buyer comes from 127.0.0.1, and keeps the
per-user default (600/minute, each buyer registers its own account); against an API with the
production default (3,000/minute per IP), raise RATE_LIMIT_PER_IP for thousands of buyers.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from pathlib import Path

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's packages

from bench.buyer import BuyerPlan, Reply, app_ms, buy  # noqa: E402

EVENTS = "query { events(limit: 50, status: ON_SALE) { id maxCapacity availableSeats } }"
ABANDON_SHARE = float(os.environ.get("ABANDON_SHARE", "0.1"))
DECLINE_SHARE = float(os.environ.get("DECLINE_SHARE", "0.1"))

_event_lock = threading.Lock()
_event_id: str | None = os.environ.get("EVENT_ID")


class Buyer(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        global _event_id
        with _event_lock:
            if _event_id is None:
                events = self.client.post("/graphql", json={"query": EVENTS}, name="events")
                listed = events.json()["data"]["events"]
                if not listed:
                    raise RuntimeError("no ON_SALE event: start `make dev` (it seeds demo data)")
                _event_id = max(listed, key=lambda e: e["maxCapacity"])["id"]
        self.event_id = _event_id
        self.rng = random.Random()

    @task
    def buy_tickets(self) -> None:
        abandons = self.rng.random() < ABANDON_SHARE
        plan = BuyerPlan(
            index=0,
            wants=self.rng.randint(1, 4),
            abandons=abandons,
            declines=not abandons and self.rng.random() < DECLINE_SHARE,
            registers=True,  # no pre-made tokens against a shared stack
        )
        steps = buy(plan, self.event_id, None, self.rng)
        call = next(steps)
        while True:
            began = time.perf_counter()
            with self.client.post(
                "/graphql",
                json=call.body(),
                headers=call.headers(),
                name=call.op,
                catch_response=True,
            ) as response:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if response.status_code != 200 or not body or body.get("errors"):
                    response.failure(f"HTTP {response.status_code}: {(body or {}).get('errors')}")
                else:
                    response.success()
            elapsed_ms = (time.perf_counter() - began) * 1000
            server_ms = app_ms(response.headers.get("server-timing"))
            reply = Reply(response.status_code, body, elapsed_ms, server_ms)
            try:
                call = steps.send(reply)
            except StopIteration:
                return
