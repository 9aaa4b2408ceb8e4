"""Engine construction: the one place a PostgreSQL URL becomes a pooled SQLAlchemy engine."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def sqlalchemy_url(url: str) -> str:
    """Accepts plain ``postgresql://`` URLs (what pgserver and most tools print)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
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
