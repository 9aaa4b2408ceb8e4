"""Engine construction (the one place a PostgreSQL URL becomes a pooled SQLAlchemy engine) and
the transaction every writer of rows that others lock uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg.errors
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from domain.errors import DomainError, ErrorCode


def sqlalchemy_url(url: str) -> str:
    """Accepts plain ``postgresql://`` URLs (what pgserver and most tools print)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def with_timeouts(url: str, connect_timeout_s: int, statement_timeout_ms: int) -> str:
    """The URL with psycopg's ``connect_timeout`` and a per-connection ``statement_timeout``.

    In the URL (libpq's own parameters), not in hidden connect arguments, so the engine's URL
    shows what every connection gets.
    """
    parsed = make_url(sqlalchemy_url(url))
    query = {
        **parsed.query,
        "connect_timeout": str(int(connect_timeout_s)),
        "options": f"-c statement_timeout={int(statement_timeout_ms)}",
    }
    return parsed.set(query=query).render_as_string(hide_password=False)


def make_engine(
    url: str,
    pool_size: int = 10,
    max_overflow: int = 20,
    connect_timeout_s: int | None = None,
    statement_timeout_ms: int | None = None,
) -> Engine:
    """A pooled engine; with both timeouts given, every connection carries them."""
    if connect_timeout_s is not None and statement_timeout_ms is not None:
        url = with_timeouts(url, connect_timeout_s, statement_timeout_ms)
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # A failed statement's message would otherwise carry its parameters into the logs:
        # password hashes, emails, payment references.
        hide_parameters=True,
        future=True,
    )


@contextmanager
def transaction(engine: Engine, lock_timeout_ms: int) -> Iterator[Connection]:
    """One transaction whose row locks wait at most ``lock_timeout_ms``: a row another
    transaction holds longer (or a deadlock) is LOCK_CONTENTION, which callers retry, instead
    of a request stalled behind it."""
    try:
        with engine.begin() as conn:
            # SET LOCAL cannot take a bind parameter; set_config(..., true) is the same.
            conn.execute(
                text("SELECT set_config('lock_timeout', :value, true)"),
                {"value": f"{int(lock_timeout_ms)}ms"},
            )
            yield conn
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
            raise DomainError(
                ErrorCode.LOCK_CONTENTION,
                "the rows are busy with another change; retry",
                lock_timeout_ms=lock_timeout_ms,
            ) from exc
        raise
