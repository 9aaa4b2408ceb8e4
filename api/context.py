"""The per-request GraphQL context: services, the caller's identity and address."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo
from starlette.requests import HTTPConnection

from api.auth import Identity, bearer_token
from api.errors import unauthenticated
from api.services import Services

CONNECTION_PARAMS = "graphql_connection_params"


@dataclass
class Context:
    services: Services
    identity: Identity | None = None
    ip: str = "unknown"
    request: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def require_user(self) -> Identity:
        if self.identity is None:
            raise unauthenticated()
        return self.identity


def ctx(info: GraphQLResolveInfo) -> Context:
    return info.context  # type: ignore[no-any-return]


def _authorization(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        return header
    # WebSocket clients cannot set headers in browsers: graphql-transport-ws sends the token
    # in the connection_init payload, which on_connect stored in the scope.
    params = connection.scope.get(CONNECTION_PARAMS) or {}
    value = params.get("Authorization") or params.get("authorization")
    if isinstance(value, str):
        return value
    token = params.get("authToken") or params.get("token")
    return f"Bearer {token}" if isinstance(token, str) else None


def build_context(services: Services, connection: HTTPConnection) -> Context:
    token = bearer_token(_authorization(connection))
    identity = services.tokens.verify(token) if token else None
    client = connection.client
    return Context(
        services=services,
        identity=identity,
        ip=client.host if client else "unknown",
        request=connection,
    )
