"""The world one benchmark run lives in: services, its own names, worker and API processes.

PostgreSQL and Redis are the configured ones (``DATABASE_URL``/``REDIS_URL``, else the
machine's, else embedded) with a database and key prefix of this run only; moto_server and the
Temporal dev server (persistent SQLite with the WAL pragmas, as ``make dev`` runs it) are always
started for the run, so the ceilings are measured on servers nobody else is loading. Every
process is stopped by its PID in :meth:`BenchStack.stop`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, text

from adapters.db import make_engine
from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.migrate import upgrade
from adapters.orm import Event, EventSeat, Seat, User, Venue
from api.auth import TokenService
from devstack.databases import create_database, drop_database
from devstack.seed import load_demo_data
from devstack.services import (
    Stack,
    free_port,
    stop_process,
    task_queue_pollers,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
# High enough that thousands of buyers from one address are never throttled.
UNLIMITED = "10000000/minute"


@dataclass(frozen=True)
class SaleEvent:
    event_id: str
    seat_ids: list[str]  # in seat-map order: section, row, number


@dataclass
class BenchStack:
    stack: Stack
    work: Path
    run_id: str
    admin_url: str
    db_name: str
    database_url: str
    engine: Engine
    task_queue: str
    seat_lock_table: str
    redis_prefix: str
    jwt_secret: str
    keep_database: bool = False
    _apps: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_metrics_url: str | None = None  # the latest start_workers' first worker

    # --- settings shared by every process of the run ---

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV"))}
        env.update(
            ENVIRONMENT="test",
            JWT_SECRET=self.jwt_secret,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.stack.redis_url,
            DYNAMODB_ENDPOINT=self.stack.dynamodb_endpoint,
            TEMPORAL_ADDRESS=self.stack.temporal_address,
            TASK_QUEUE=self.task_queue,
            SEAT_LOCK_TABLE=self.seat_lock_table,
            REDIS_PREFIX=self.redis_prefix,
            WORKER_METRICS_PORT="0",
            RATE_LIMIT_PER_USER=UNLIMITED,
            RATE_LIMIT_PER_IP=UNLIMITED,
            # thousands of buyers register, sign in and subscribe from this one address
            RATE_LIMIT_REGISTRATIONS_PER_IP=UNLIMITED,
            RATE_LIMIT_LOGIN_PER_IP=UNLIMITED,
            WS_MAX_CONNECTIONS_PER_IP="100000",
            LOG_LEVEL="WARNING",
            LOG_JSON="false",
        )
        env.update(overrides)
        return env

    def tokens(self) -> TokenService:
        return TokenService(self.jwt_secret, ttl_seconds=6 * 3600)

    def buyer_tokens(self, n: int) -> list[str]:
        """``n`` new buyers (``create_users``), each one's token."""
        minted = self.tokens()
        return [minted.issue(user_id, email) for user_id, email in create_users(self.engine, n)]

    def dynamodb(self) -> Any:
        return make_client(self.stack.dynamodb_endpoint)

    # --- processes ---

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        path = self.work / log
        with open(path, "ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            )
        self._apps.append(proc)
        return proc

    def start_workers(self, n: int, **env: str) -> list[subprocess.Popen[bytes]]:
        """``n`` ``python -m worker`` processes on the run's task queue, polling when returned."""
        since = time.time() - 1
        # The first worker exposes Temporal's SDK metrics (bench/temporal_metrics.py).
        metrics_port = free_port()
        self.worker_metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        procs = [
            self._spawn(
                [sys.executable, "-m", "worker"],
                f"worker-{len(self._apps)}-{i}.log",
                self.env(**{**env, "WORKER_METRICS_PORT": str(metrics_port if i == 0 else 0)}),
            )
            for i in range(n)
        ]
        pids = {p.pid for p in procs}

        def polling() -> None:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"worker {proc.pid} exited with {proc.returncode}")
            seen = {
                int(identity.split("@", 1)[0])
                for identity in task_queue_pollers(
                    self.stack.temporal_address, self.task_queue, since=since
                )
                if identity.split("@", 1)[0].isdigit()
            }
            if not pids <= seen:
                raise RuntimeError(f"workers polling: {sorted(seen & pids)} of {sorted(pids)}")

        wait_until(polling, "worker processes", timeout=60)
        return procs

    def start_api(self, **env: str) -> tuple[subprocess.Popen[bytes], str]:
        """One uvicorn process serving ``api.app:app``; returns it and its base URL."""
        port = free_port()
        proc = self._spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            f"api-{port}.log",
            self.env(**env),
        )
        url = f"http://127.0.0.1:{port}"

        def healthy() -> None:
            if proc.poll() is not None:
                raise RuntimeError(f"API exited with {proc.returncode}")
            httpx.get(f"{url}/health", timeout=2).raise_for_status()

        wait_until(healthy, "API", timeout=60)
        return proc, url

    def stop_app(self, proc: subprocess.Popen[bytes]) -> None:
        stop_process(proc, timeout=30)
        if proc in self._apps:
            self._apps.remove(proc)

    def pids(self) -> dict[str, int]:
        owned = dict(self.stack.pids())
        for proc in self._apps:
            args = [str(a) for a in proc.args]  # type: ignore[union-attr]
            name = "api" if "uvicorn" in args else "worker"
            owned[f"{name}-{proc.pid}"] = proc.pid
        return owned

    def stop_apps(self) -> None:
        """API and workers, newest first, while the services they drain into still answer."""
        for proc in reversed(list(self._apps)):
            self.stop_app(proc)

    def stop(self) -> None:
        self.stop_apps()
        self.engine.dispose()
        try:
            if not self.keep_database:
                drop_database(self.admin_url, self.db_name)
        finally:
            self.stack.stop()


def start(work: Path, keep_database: bool = False) -> BenchStack:
    """Services up, the run's database migrated and seeded, its lock table created."""
    run_id = uuid.uuid4().hex[:8]
    stack = Stack()
    try:
        stack.start_postgres(os.environ.get("DATABASE_URL"), work / "pg", try_machine=True)
        stack.start_redis(os.environ.get("REDIS_URL"), work / "redis", try_machine=True)
        stack.start_dynamodb(None, work)
        stack.start_temporal(
            None, work / "temporal", persistent=True, log_dir=work, metrics_port=free_port()
        )
        db_name = f"tb_bench_{run_id}"
        database_url = create_database(stack.database_url, db_name)
        upgrade(database_url)
        engine = make_engine(database_url, pool_size=40, max_overflow=10)
        load_demo_data(engine)
    except BaseException:
        stack.stop()
        raise
    bench = BenchStack(
        stack=stack,
        work=work,
        run_id=run_id,
        admin_url=stack.database_url,
        db_name=db_name,
        database_url=database_url,
        engine=engine,
        task_queue=f"bench-checkout-{run_id}",
        seat_lock_table=f"bench-seat-locks-{run_id}",
        redis_prefix=f"bench-{run_id}:",
        jwt_secret=secrets.token_urlsafe(48),
        keep_database=keep_database,
    )
    try:
        ensure_seat_lock_table(bench.dynamodb(), bench.seat_lock_table)
    except BaseException:
        bench.stop()
        raise
    return bench


# --- data of one section ---


def seed_event(
    engine: Engine, n_seats: int, seats_per_row: int = 20, name: str = "bench"
) -> SaleEvent:
    """A venue of exactly ``n_seats`` seats (rows of ``seats_per_row``) and its ON_SALE event."""
    venue, event = uuid.uuid4(), uuid.uuid4()
    seats = [uuid.uuid4() for _ in range(n_seats)]
    with engine.begin() as conn:
        conn.execute(
            insert(Venue).values(
                id=venue, name=f"{name}-{venue}", address="-", total_capacity=n_seats
            )
        )
        conn.execute(
            insert(Seat),
            [
                {
                    "id": seat,
                    "venue_id": venue,
                    "section": "FLOOR",
                    "row": f"R{i // seats_per_row:03d}",
                    "number": i % seats_per_row + 1,
                    "price_modifier": Decimal("1.000"),
                }
                for i, seat in enumerate(seats)
            ],
        )
        conn.execute(
            insert(Event).values(
                id=event,
                venue_id=venue,
                name=name,
                status="ON_SALE",
                base_price=Decimal("49.00"),
                currency="USD",
                max_capacity=n_seats,
                event_date=datetime.now(UTC) + timedelta(days=30),
            )
        )
        conn.execute(insert(EventSeat), [{"event_id": event, "seat_id": s} for s in seats])
    return SaleEvent(str(event), [str(s) for s in seats])


def create_users(engine: Engine, n: int) -> list[tuple[str, str]]:
    """``n`` users (id, email) with no usable password: the benchmark mints their tokens."""
    users = [(uuid.uuid4(), f"buyer-{uuid.uuid4().hex[:12]}@bench.test") for _ in range(n)]
    with engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(
                insert(User),
                [
                    {"id": u, "email": e, "first_name": "B", "last_name": "B", "password_hash": "-"}
                    for u, e in users[start : start + 2000]
                ],
            )
    return [(str(u), e) for u, e in users]


def unsold_seat_ids(engine: Engine, event_id: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seat_id FROM event_seats WHERE event_id = :e AND status <> 'BOOKED'"),
            {"e": event_id},
        )
        return {str(seat_id) for (seat_id,) in rows}


def seats_sold(engine: Engine, event_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM event_seats WHERE event_id = :e AND status = 'BOOKED'"),
                {"e": event_id},
            ).scalar_one()
        )


async def check_invariants(
    bench: BenchStack,
    temporal_client: Any,
    event_ids: list[str],
    with_seat_map: bool = False,
) -> list[Any]:
    """``audit.invariants.check_all`` on the run's stores; optionally the cached seat map too."""
    import redis

    from adapters.payments import SandboxPayments
    from adapters.seat_claims import SeatClaimRecorder
    from adapters.seat_locks import DynamoSeatLocks
    from adapters.seatmap_cache import _decode, seatmap_key  # the cache's own wire format
    from audit.invariants import check_all

    cached = None
    if with_seat_map:
        client = redis.Redis.from_url(bench.stack.redis_url)

        def cached(event_id: str) -> set[str] | None:
            # What a reader is served: the cached entry if there is one (None: readers rebuild).
            raw = client.get(seatmap_key(bench.redis_prefix, event_id))
            return None if raw is None else {seat.id for seat in _decode(raw)}

    return await check_all(
        bench.engine,
        DynamoSeatLocks(bench.dynamodb(), bench.seat_lock_table),
        SandboxPayments(bench.engine),
        temporal_client,
        event_ids,
        cached_available=cached,
        claims=SeatClaimRecorder(redis.Redis.from_url(bench.stack.redis_url), bench.redis_prefix),
    )
