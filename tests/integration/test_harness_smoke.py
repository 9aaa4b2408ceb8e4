from __future__ import annotations

from sqlalchemy import Engine, text


def test_migrated_database_has_the_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).scalars()
        )
    assert {"venues", "seats", "events", "event_seats", "users", "bookings"} <= tables


async def test_temporal_answers(temporal_client) -> None:  # type: ignore[no-untyped-def]
    info = await temporal_client.workflow_service.get_system_info(
        __import__("temporalio.api.workflowservice.v1", fromlist=["x"]).GetSystemInfoRequest()
    )
    assert info is not None


def test_dynamodb_table_exists(dynamodb, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.seat_lock_table in dynamodb.list_tables()["TableNames"]
