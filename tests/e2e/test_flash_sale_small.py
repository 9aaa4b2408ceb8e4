"""A small flash sale through the real HTTP API (uvicorn) and a real worker process.

300 buyers for 60 seats, 30 at a time, with the benchmark's own buyer behaviour: some abandon
their hold (it expires after 3 s), some pay with the declining card. Only invariants are
asserted, never timings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bench import flash_sale
from bench.stack import BenchStack
from config.settings import Settings
from devstack.services import Stack


@pytest.fixture
def bench(
    stack: Stack, settings: Settings, engine: Engine, dynamodb: object, run_id: str, tmp_path: Path
) -> Iterator[BenchStack]:
    """The benchmark's process helpers on the test session's services and names."""
    assert settings.database_url
    sale = BenchStack(
        stack=stack,
        work=tmp_path,
        run_id=run_id,
        admin_url=stack.database_url,
        db_name="",  # the session owns the database
        database_url=settings.database_url,
        engine=engine,
        task_queue=f"{settings.task_queue}-flash",
        seat_lock_table=settings.seat_lock_table,
        redis_prefix=f"{settings.redis_prefix}flash:",
        jwt_secret=settings.jwt_secret,
        keep_database=True,
    )
    try:
        yield sale
    finally:
        sale.stop_apps()  # never stop(): the services belong to the session


async def test_small_flash_sale_sells_each_seat_once(bench: BenchStack) -> None:
    env = {"HOLD_SECONDS": "3"}
    # both wait for readiness with their own event loop: run them off this one
    await asyncio.to_thread(bench.start_workers, 1, **env)
    _, url = await asyncio.to_thread(bench.start_api, **env)

    result = await flash_sale.run(
        bench, [url], buyers=300, seats=60, clients=30, hold_seconds=3, seed=11
    )

    assert result["violations"] == [] and result["invariant_violations"] == 0
    assert result["double_sold"] == 0 and result["orphan_charges"] == 0
    assert result["http_5xx"] == 0
    assert result["checkouts_still_running"] == 0
    # what buyers were told they bought is exactly what PostgreSQL says was sold
    assert result["buyers_confirmed_seats_match_db"]
    assert 0 < result["seats_sold"] <= 60
    assert result["outcomes"].get("confirmed", 0) > 0
