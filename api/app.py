"""The FastAPI application: GraphQL at ``/graphql`` (HTTP + graphql-transport-ws), health,
metrics. ``app`` is safe to import: connections are made in the lifespan, not here.

Run: ``uvicorn api.app:app`` (settings from the environment, see ``config/settings.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ariadne.asgi import GraphQL
from ariadne.explorer import ExplorerGraphiQL, ExplorerHttp405
from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.context import CONNECTION_PARAMS, Context, build_context
from api.errors import format_error
from api.graphql_http import HTTPHandler, graphql_logger
from api.health import router as health_router
from api.limits_rules import (
    NoNulInStrings,
    depth_limit_rule,
    make_query_parser,
    make_query_validator,
    root_fields_rule,
)
from api.logs import configure_logging
from api.middleware import ApiMiddleware
from api.reports_csv import router as reports_csv_router
from api.request_limits import max_request_bytes
from api.schema import build_schema
from api.services import Services
from api.web import router as web_router
from api.websocket import StrictTransportWSHandler
from bootstrap import build_services
from config.gc_tuning import tune_gc
from config.production import graphql_explorer_enabled, refuse_unsafe, trusted_proxies
from config.settings import Settings, get_settings


def _context(connection: HTTPConnection, _data: Any) -> Context:
    return build_context(connection.app.state.services, connection)


def _on_connect(websocket: Any, payload: Any) -> None:
    # graphql-transport-ws carries auth in connection_init; the context reads it from here.
    websocket.scope[CONNECTION_PARAMS] = payload if isinstance(payload, dict) else {}


def create_graphql_app(settings: Settings) -> GraphQL:
    explorer = graphql_explorer_enabled(settings)
    return GraphQL(
        build_schema(),
        context_value=_context,
        error_formatter=format_error,
        debug=False,
        introspection=explorer,
        explorer=ExplorerGraphiQL(title="Ticket booking") if explorer else ExplorerHttp405(),
        query_parser=make_query_parser(settings.graphql_max_query_bytes),
        query_validator=make_query_validator(),
        validation_rules=[
            depth_limit_rule(settings.graphql_max_depth),
            root_fields_rule(settings.graphql_max_root_fields, settings.graphql_max_root_mutations),
            NoNulInStrings,
        ],
        http_handler=HTTPHandler(),
        logger=graphql_logger(),
        websocket_handler=StrictTransportWSHandler(on_connect=_on_connect),
    )


class GraphQLEndpoint:
    """``/graphql`` (HTTP and websocket) straight to ariadne's ASGI app; other paths go on to
    FastAPI's router. Ariadne answers its own errors, so the exception middleware, router and
    request wrapper FastAPI puts around a route would only cost CPU on every GraphQL request."""

    def __init__(self, app: ASGIApp, graphql: GraphQL) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] == "/graphql":
            await self.graphql(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client: Client | None = None,
    services: Services | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """The API. Lifespan builds ``Services`` from settings (engine, Redis, DynamoDB, a lazy
    Temporal client) unless ``services`` is given; pass ``temporal_client`` to share one."""
    settings = settings or get_settings()
    refuse_unsafe(settings)  # production refuses unsafe settings before anything is built
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings, temporal_client)
        if owned:  # a server process, not a test's app over injected services
            tune_gc(settings.gc_gen0_threshold)
        # Which backends answer, so an outage is answered at once (api/backend_watch.py).
        app.state.services.backends.start()
        room = app.state.services.waiting_room
        if room is not None:  # admissions go on while buyers wait without asking
            room.start_clock()
        try:
            yield
        finally:
            if room is not None:  # before Redis closes: the clocks tick on it
                await room.aclose()
            await app.state.services.backends.stop()
            if owned:
                await app.state.services.close()

    app = FastAPI(
        title="Ticket booking API",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The API reports through Prometheus (/metrics) and structlog, not OpenTelemetry.
        # Left on, FastAPI's native telemetry asks OpenTelemetry's global providers (reading
        # the environment) on every request, only to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.include_router(health_router)
    app.include_router(reports_csv_router)
    app.include_router(web_router)  # the buyer's page at /

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Added first, so innermost: below the rate limits and CORS, above FastAPI's router.
    app.add_middleware(GraphQLEndpoint, graphql=create_graphql_app(settings))
    app.add_middleware(
        ApiMiddleware,
        production=settings.environment == "production",
        max_body_bytes=max_request_bytes(settings),  # the websocket's frame cap too
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "Server-Timing"],
    )
    # Outermost: the client address every layer below sees (the rate limits count it) comes
    # from proxy headers only when the peer is a configured proxy. Here, not in uvicorn, so the
    # rule is the settings' (uvicorn runs with --no-proxy-headers: docker-compose.yml).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies(settings))
    return app


app = create_app()
