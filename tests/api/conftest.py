"""API fixtures: services on the run's backends, a worker on an API-only task queue, and
helpers to execute the schema directly or through HTTP."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from ariadne import graphql
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client

from api.app import create_app
from api.auth import Identity, hash_password
from api.context import Context
from api.errors import format_error
from api.graphql_http import graphql_logger
from api.limits_rules import depth_limit_rule, make_query_parser
from api.schema import build_schema
from api.services import Services
from bootstrap import build_services, build_worker
from config.settings import Settings
from domain.model import Role

PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)


@pytest.fixture(scope="session")
def api_settings(settings: Settings, dynamodb: Any) -> Settings:
    # Own task queue: other suites run workers with recording fakes on the run's queue.
    return settings.model_copy(
        update={
            "task_queue": f"{settings.task_queue}-api",
            "rate_limit_enabled": False,
            # a test's payments count in its room's failed share once their second is over
            "waiting_room_payment_settle_seconds": 0.0,
        }
    )


@pytest.fixture(scope="session")
async def services(api_settings: Settings, temporal_client: Client) -> AsyncIterator[Services]:
    built = build_services(api_settings, temporal_client)
    yield built
    await built.close()


@pytest.fixture(scope="session")
async def api_worker(api_settings: Settings, temporal_client: Client) -> AsyncIterator[None]:
    async with build_worker(api_settings, temporal_client):
        yield


@pytest.fixture(scope="session")
def schema(api_settings: Settings) -> Any:
    return build_schema()


@dataclass
class Buyer:
    """A signed-in user (a buyer unless made with other roles)."""

    id: str
    email: str
    token: str
    roles: tuple[str, ...] = ("BUYER",)

    @property
    def identity(self) -> Identity:
        return Identity(self.id, self.email, frozenset(self.roles))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(services: Services, *roles: Role) -> Buyer:
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    user = services.users.create(email, _PASSWORD_HASH, "Test", "User")
    for role in roles:
        user = services.users.grant_role(user.id, role.value) or user
    token = services.tokens.issue(user.id, user.email, user.roles)
    return Buyer(user.id, user.email, token, user.roles)


@pytest.fixture
def make_buyer(services: Services) -> Any:
    return lambda: make_user(services)


@pytest.fixture
def make_organizer(services: Services) -> Any:
    return lambda: make_user(services, Role.ORGANIZER)


@pytest.fixture
def make_admin(services: Services) -> Any:
    return lambda: make_user(services, Role.ADMIN)


@dataclass
class Gql:
    schema: Any
    services: Services

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        buyer: Buyer | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        settings = self.services.settings
        context = Context(self.services, buyer.identity if buyer else None, "127.0.0.1")
        data: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            data["operationName"] = operation_name
        _, result = await graphql(
            self.schema,
            data,
            context_value=context,
            error_formatter=format_error,
            logger=graphql_logger(),
            query_parser=make_query_parser(settings.graphql_max_query_bytes),
            validation_rules=[depth_limit_rule(settings.graphql_max_depth)],
        )
        return result  # type: ignore[no-any-return]


@pytest.fixture
def gql(schema: Any, services: Services) -> Gql:
    return Gql(schema, services)


def make_app(settings: Settings, services: Services) -> FastAPI:
    app = create_app(settings, services=services, configure_logs=False)
    app.state.services = services  # ASGITransport runs no lifespan
    return app


@pytest.fixture
async def http(api_settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(api_settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live_server(api_settings: Settings, services: Services) -> AsyncIterator[str]:
    """A real uvicorn on a free port (for websockets); yields its base URL."""
    port = free_port()
    app = make_app(api_settings, services)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task


def data_of(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("errors"), result.get("errors")
    return result["data"]  # type: ignore[no-any-return]


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


@pytest.fixture
def event_factory(engine: Engine) -> Any:
    from tests.api.factory import make_event

    return lambda **kw: make_event(engine, **kw)
