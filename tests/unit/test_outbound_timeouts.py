"""Every client bootstrap.py builds carries the settings' timeouts and bounded retry.

Built for real (nothing connects at build time) and inspected, for the API's services and the
worker's backends alike, with values that differ from every library default.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from temporalio.client import Client

import bootstrap
from adapters.temporal_converter import DATA_CONVERTER
from config.settings import Settings

REAL_SECRET = "a-real-secret-" + "s" * 40


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret=REAL_SECRET,
        database_url="postgresql://u:p@127.0.0.1:1/nowhere",
        redis_url="redis://127.0.0.1:1/0",
        dynamodb_endpoint="http://127.0.0.1:1",
        temporal_address="127.0.0.1:1",
        db_connect_timeout_seconds=4,
        db_statement_timeout_ms=7000,
        redis_connect_timeout_seconds=0.3,
        redis_socket_timeout_seconds=1.5,
        redis_retries=2,
        dynamodb_connect_timeout_seconds=1.5,
        dynamodb_read_timeout_seconds=3.5,
        dynamodb_max_attempts=4,
        temporal_connect_timeout_seconds=6,
        temporal_rpc_max_retries=3,
        temporal_rpc_retry_max_seconds=7,
    )


def assert_postgres(engine: Any) -> None:
    assert engine.url.query["connect_timeout"] == "4"
    assert engine.url.query["options"] == "-c statement_timeout=7000"


def assert_redis(client: redis.Redis | aredis.Redis, asynchronous: bool) -> None:
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == 0.3
    assert kwargs["socket_timeout"] == 1.5
    retry = kwargs["retry"]
    expected = redis.asyncio.retry.Retry if asynchronous else redis.retry.Retry
    assert isinstance(retry, expected)
    assert retry._retries == 2


def assert_dynamodb(client: Any) -> None:
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 3.5)
    assert config.retries["total_max_attempts"] == 4


def test_the_api_clients_carry_their_timeouts(settings: Settings) -> None:
    services = bootstrap.build_services(settings)
    assert_postgres(services.engine)
    assert_redis(services.redis, asynchronous=False)
    assert_redis(services.aredis, asynchronous=True)
    assert_dynamodb(services.dynamodb)
    assert services.temporal._connect_options == bootstrap.temporal_connect_options(settings)
    services.engine.dispose()


def test_the_worker_clients_carry_their_timeouts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's build creates the seat-lock table; nothing here answers.
    monkeypatch.setattr(bootstrap, "ensure_seat_lock_table", lambda client, table: None)
    backends = bootstrap.build_backends(settings)
    assert_postgres(backends.engine)
    assert_redis(backends.redis, asynchronous=False)
    assert_dynamodb(backends.dynamodb)
    backends.close()


async def test_the_temporal_client_carries_its_timeout_and_bounded_retry(
    settings: Settings,
) -> None:
    client = await Client.connect(
        "127.0.0.1:1",
        data_converter=DATA_CONVERTER,
        lazy=True,
        **bootstrap.temporal_connect_options(settings),
    )
    config = client.service_client.config
    assert config.connect_timeout is not None
    assert config.connect_timeout.total_seconds() == 6
    assert config.retry_config is not None
    assert config.retry_config.max_retries == 3
    assert config.retry_config.max_elapsed_time_millis == 7000
