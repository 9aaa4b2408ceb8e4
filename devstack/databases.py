"""Per-run PostgreSQL databases: each test run or benchmark gets its own, built by migrations."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (works for socket URLs too)."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
