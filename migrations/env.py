"""Alembic environment: the URL comes from the caller (``-x url=`` / config) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from adapters.db import sqlalchemy_url
from adapters.orm import Base
from config.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    url = url or get_settings().database_url
    if not url:
        raise SystemExit("no database URL: set DATABASE_URL or run through `python -m devstack`")
    return sqlalchemy_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    # a one-shot CLI run: no pool to leave behind
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
