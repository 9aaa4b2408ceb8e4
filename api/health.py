"""Liveness, dependency health and readiness, as JSON with each dependency's state.

Each backend's check is defined here once; the backend watch (``api/backend_watch.py``) runs
them in the background on connections of its own, and ``/health/ready`` reports the watch's
state: the same verdict the holds, payments and seat-map reads are answered by.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from api.backend_watch import CACHE, DATABASE, DYNAMODB, TEMPORAL, Check
from api.services import Services, TemporalConnector, run_sync

router = APIRouter()
CACHE_FALLBACK = "seat maps are read from PostgreSQL and DynamoDB on every request"


def database_check(engine: Engine) -> Callable[[], None]:
    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return select_one


def cache_check(client: redis.Redis) -> Callable[[], object]:
    return client.ping


def dynamodb_check(client: Any, table: str) -> Callable[[], object]:
    return functools.partial(client.describe_table, TableName=table)


def temporal_check(connector: TemporalConnector) -> Callable[[float], Awaitable[None]]:
    async def health(timeout_seconds: float) -> None:
        # The deadline is the SDK core's (gRPC), not the event loop's: a busy loop delivers
        # the answer late but cannot turn it into a timeout.
        client = await connector.client()
        await client.service_client.check_health(timeout=timedelta(seconds=timeout_seconds))

    return health


def checks(
    engine: Engine,
    cache: redis.Redis,
    dynamodb: Any,
    table: str,
    temporal: TemporalConnector,
) -> dict[str, Check]:
    """The backend watch's probes, on the clients given (the watch's own)."""
    return {
        DATABASE: Check(database_check(engine), in_thread=True),
        CACHE: Check(cache_check(cache), in_thread=True),
        DYNAMODB: Check(dynamodb_check(dynamodb, table), in_thread=True),
        TEMPORAL: Check(temporal_check(temporal), in_thread=False),
    }


async def _probe(check: Callable[[], object], timeout_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(run_sync(check), timeout_seconds)
    except Exception as exc:  # any failure is "down"; the type name helps, the text may leak
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def check_db(services: Services) -> dict[str, Any]:
    return await _probe(database_check(services.engine), services.settings.health_check_seconds)


async def check_cache(services: Services) -> dict[str, Any]:
    result = await _probe(cache_check(services.redis), services.settings.health_check_seconds)
    if result["status"] != "ok":
        result["fallback"] = CACHE_FALLBACK
    return result


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/db")
async def health_db(request: Request) -> JSONResponse:
    db = await check_db(_services(request))
    ok = db["status"] == "ok"
    return JSONResponse({"status": db["status"], "database": db}, 200 if ok else 503)


@router.get("/health/cache")
async def health_cache(request: Request) -> JSONResponse:
    cache = await check_cache(_services(request))
    ok = cache["status"] == "ok"
    return JSONResponse({"status": cache["status"], "cache": cache}, 200 if ok else 503)


@router.get("/health/ready")
async def health_ready(request: Request) -> JSONResponse:
    watch = _services(request).backends
    # The watch's state when it runs (the API's lifespan starts it); one probe each otherwise.
    dependencies = watch.report() if watch.running else await watch.probe_once()
    if dependencies[CACHE]["status"] != "ok":
        dependencies[CACHE]["fallback"] = CACHE_FALLBACK
    required_ok = all(dependencies[n]["status"] == "ok" for n in (DATABASE, DYNAMODB, TEMPORAL))
    if not required_ok:
        status = "down"
    else:
        # Without Redis the API still serves (seat maps from PostgreSQL), degraded.
        status = "ok" if dependencies[CACHE]["status"] == "ok" else "degraded"
    # Named, so an operator (and a load balancer's log) sees at once which backend is down.
    down = sorted(name for name, d in dependencies.items() if d["status"] != "ok")
    return JSONResponse(
        {"status": status, "down": down, "dependencies": dependencies},
        200 if required_ok else 503,
    )
