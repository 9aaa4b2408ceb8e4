"""Engine construction: the one place a PostgreSQL URL becomes a pooled SQLAlchemy engine."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url


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
