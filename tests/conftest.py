"""The test harness: services start once per session; every run isolates itself.

A run gets its own PostgreSQL database (built by the migrations), Redis key prefix, DynamoDB
table and Temporal task queue, so concurrent runs (and `make dev` on the same machine) never
see each other's data. The machine's PostgreSQL/Redis are used where they answer; otherwise
the embedded ones start (the newcomer's path). moto_server and the Temporal dev server are
started by the session unless DYNAMODB_ENDPOINT / TEMPORAL_ADDRESS point at running ones.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from sqlalchemy import Engine
from temporalio.client import Client

from adapters.db import make_engine
from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.migrate import upgrade
from adapters.temporal_converter import DATA_CONVERTER
from config.settings import Settings
from devstack.databases import create_database, drop_database
from devstack.services import Stack

RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    work = Path(tempfile.mkdtemp(prefix=f"tb-test-{RUN_ID}-"))
    stack = Stack()
    try:
        stack.start_postgres(os.environ.get("DATABASE_URL"), work / "pg", try_machine=True)
        stack.start_redis(os.environ.get("REDIS_URL"), work / "redis", try_machine=True)
        stack.start_dynamodb(os.environ.get("DYNAMODB_ENDPOINT"), work)
        stack.start_temporal(os.environ.get("TEMPORAL_ADDRESS"), work, persistent=False)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def database_url(stack: Stack) -> Iterator[str]:
    name = f"tb_test_{RUN_ID}"
    url = create_database(stack.database_url, name)
    upgrade(url)
    yield url
    drop_database(stack.database_url, name)


@pytest.fixture(scope="session")
def settings(stack: Stack, database_url: str) -> Settings:
    return Settings(
        environment="test",
        jwt_secret="test-secret-" + "x" * 40,
        database_url=database_url,
        redis_url=stack.redis_url,
        dynamodb_endpoint=stack.dynamodb_endpoint,
        temporal_address=stack.temporal_address,
        task_queue=f"checkout-{RUN_ID}",
        seat_lock_table=f"seat-locks-{RUN_ID}",
        redis_prefix=f"test-{RUN_ID}:",
        # stricter than production (config/settings.py): restricted calls in workflows fail
        worker_workflow_sandbox=True,
        # rooms start from the configured seats per buyer, not from other tests' orders
        waiting_room_order_size_sample=0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    assert settings.database_url
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def dynamodb(settings: Settings) -> Any:
    client = make_client(settings.dynamodb_endpoint)
    ensure_seat_lock_table(client, settings.seat_lock_table)
    return client


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{settings.redis_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def async_redis(settings: Settings) -> AsyncIterator[aredis.Redis]:
    """A client on the test's own event loop (the run's keys are dropped by ``redis_client``)."""
    assert settings.redis_url
    client = aredis.Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def temporal_client(settings: Settings) -> AsyncIterator[Client]:
    assert settings.temporal_address
    yield await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
    )
