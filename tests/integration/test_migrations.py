"""The migrations build the schema from nothing, tear it down, and match the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from adapters.db import make_engine
from adapters.migrate import downgrade, upgrade
from adapters.orm import Base
from devstack.databases import create_database, drop_database
from devstack.services import Stack

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def scratch_url(stack: Stack, run_id: str) -> Iterator[str]:
    """An empty database of its own: the run's shared database is already migrated."""
    name = f"tb_mig_{run_id}_{uuid.uuid4().hex[:6]}"
    yield create_database(stack.database_url, name)
    drop_database(stack.database_url, name)


def public_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )


def drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade_on_an_empty_database(scratch_url: str) -> None:
    engine = make_engine(scratch_url, pool_size=1, max_overflow=0)
    try:
        assert public_tables(engine) == set()

        upgrade(scratch_url)
        assert public_tables(engine) == MODEL_TABLES | {"alembic_version"}

        downgrade(scratch_url, "base")
        # alembic keeps its (now empty) version table; nothing of ours is left
        assert public_tables(engine) <= {"alembic_version"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 0

        upgrade(scratch_url)
        assert public_tables(engine) == MODEL_TABLES | {"alembic_version"}
        assert drift(engine) == []
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    """What `alembic check` does: autogenerate against the migrated database finds nothing."""
    assert drift(engine) == []


def test_the_seat_map_query_is_served_by_an_index(engine: Engine) -> None:
    with engine.connect() as conn:
        indexes = set(
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'event_seats'")
            ).scalars()
        )
    assert "ix_event_seats_event_id_status" in indexes
