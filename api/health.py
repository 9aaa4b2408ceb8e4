"""Liveness, dependency health and readiness, as JSON with each dependency's state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.services import Services, run_sync

router = APIRouter()


async def _probe(check: Callable[[], Awaitable[Any]], timeout_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout_seconds)
    except Exception as exc:  # any failure is "down"; the type name helps, the text may leak
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def check_db(services: Services) -> dict[str, Any]:
    def select_one() -> None:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return await _probe(lambda: run_sync(select_one), services.settings.health_check_seconds)


async def check_cache(services: Services) -> dict[str, Any]:
    result = await _probe(
        lambda: run_sync(services.redis.ping), services.settings.health_check_seconds
    )
    if result["status"] != "ok":
        result["fallback"] = "seat maps are read from PostgreSQL and DynamoDB on every request"
    return result


async def check_dynamodb(services: Services) -> dict[str, Any]:
    table = services.settings.seat_lock_table
    return await _probe(
        lambda: run_sync(services.dynamodb.describe_table, TableName=table),
        services.settings.health_check_seconds,
    )


async def check_temporal(services: Services) -> dict[str, Any]:
    async def health() -> None:
        client = await services.temporal.client()
        await client.service_client.check_health()

    return await _probe(health, services.settings.health_check_seconds)


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
    services = _services(request)
    db, cache, dynamodb, temporal = await asyncio.gather(
        check_db(services),
        check_cache(services),
        check_dynamodb(services),
        check_temporal(services),
    )
    dependencies = {"database": db, "cache": cache, "dynamodb": dynamodb, "temporal": temporal}
    required_ok = all(d["status"] == "ok" for d in (db, dynamodb, temporal))
    if not required_ok:
        status = "down"
    else:
        # Without Redis the API still serves (seat maps from PostgreSQL), degraded.
        status = "ok" if cache["status"] == "ok" else "degraded"
    # Named, so an operator (and a load balancer's log) sees at once which backend is down.
    down = sorted(name for name, d in dependencies.items() if d["status"] != "ok")
    return JSONResponse(
        {"status": status, "down": down, "dependencies": dependencies},
        200 if required_ok else 503,
    )
