"""Everything the API talks to, built from settings in the app's lifespan (never at import).

The sync adapters (SQLAlchemy, boto3, redis-py) are called through ``run_sync`` so the event
loop never blocks on I/O; the hot path's Redis adapters (claims, the response cache, rate
limits) use ``redis.asyncio`` directly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import redis
import redis.asyncio as aredis
from anyio import CapacityLimiter
from sqlalchemy import Engine
from temporalio.client import Client

from adapters.bookings import PostgresBookingStore
from adapters.catalog import EventCatalog
from adapters.checkout_client import CheckoutClient
from adapters.claimed_seat_locks import ClaimedSeatLocks
from adapters.db import make_engine
from adapters.dynamo import make_client
from adapters.open_checkouts import RedisOpenCheckouts
from adapters.payments import TOKEN_APPROVE, SandboxPayments
from adapters.seat_claims import SeatClaimRecorder, SeatClaims
from adapters.seat_locks import DynamoSeatLocks
from adapters.seatmap_cache import RedisSeatMapEvents, SeatMapCache
from adapters.temporal_converter import DATA_CONVERTER
from adapters.users import PostgresUsers
from api.admission import HoldAdmission
from api.auth import TokenService
from api.ratelimit import RateLimiter
from api.response_cache import SeatMapResponseCache
from config.settings import Settings

T = TypeVar("T")

# Threads for sync adapter calls; sized for ~50 concurrent requests per API process.
_limiter: CapacityLimiter | None = None


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    global _limiter
    if _limiter is None:
        _limiter = CapacityLimiter(64)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=_limiter)


class TemporalConnector:
    """Connects on first use, so the API starts (and reports not-ready) while Temporal is down."""

    def __init__(self, address: str, namespace: str, client: Client | None = None) -> None:
        self._address = address
        self._namespace = namespace
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await Client.connect(
                        self._address, namespace=self._namespace, data_converter=DATA_CONVERTER
                    )
        return self._client


@dataclass
class Services:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    aredis: aredis.Redis
    dynamodb: Any
    seat_locks: ClaimedSeatLocks
    claims: SeatClaims
    hold_admission: HoldAdmission
    catalog: EventCatalog
    users: PostgresUsers
    bookings: PostgresBookingStore
    payments: SandboxPayments
    seatmap: SeatMapCache
    seatmap_events: RedisSeatMapEvents
    responses: SeatMapResponseCache
    open_checkouts: RedisOpenCheckouts
    tokens: TokenService
    temporal: TemporalConnector
    rate_limiter: RateLimiter
    default_payment_token: str | None
    _checkouts: CheckoutClient | None = field(default=None, repr=False)

    async def checkouts(self) -> CheckoutClient:
        if self._checkouts is None:
            s = self.settings
            self._checkouts = CheckoutClient(
                await self.temporal.client(),
                s.task_queue,
                hold_seconds=s.hold_seconds,
                max_extensions=s.max_hold_extensions,
                max_seats=s.max_seats_per_checkout,
                task_timeout=timedelta(seconds=s.checkout_task_timeout_seconds),
            )
        return self._checkouts

    async def close(self) -> None:
        await self.aredis.aclose()
        self.redis.close()
        self.engine.dispose()


def build_services(settings: Settings, temporal_client: Client | None = None) -> Services:
    """Builds clients and pools; connections themselves open lazily on first use."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (start the stack with `make dev`)")
    redis_url = settings.redis_url or "redis://127.0.0.1:6379/0"
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    # Short timeouts: with Redis down, reads must fall back to PostgreSQL quickly.
    timeouts = {"socket_connect_timeout": 0.5, "socket_timeout": 2.0}
    sync_redis = redis.Redis.from_url(redis_url, max_connections=128, **timeouts)
    async_redis = aredis.Redis.from_url(redis_url, **timeouts)
    dynamodb = make_client(
        settings.dynamodb_endpoint,
        region=settings.aws_region,
        access_key=settings.aws_access_key_id,
        secret_key=settings.aws_secret_access_key,
        max_attempts=settings.dynamodb_max_attempts,
    )
    seat_locks = ClaimedSeatLocks(
        DynamoSeatLocks(dynamodb, settings.seat_lock_table),
        SeatClaimRecorder(sync_redis, settings.redis_prefix),
    )
    catalog = EventCatalog(engine)
    temporal_address = settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    return Services(
        settings=settings,
        engine=engine,
        redis=sync_redis,
        aredis=async_redis,
        dynamodb=dynamodb,
        seat_locks=seat_locks,
        claims=SeatClaims(async_redis, settings.redis_prefix),
        # Past its claim's expiry (one hold length) a waiting hold no longer keeps other
        # buyers off its seats, so it waits no longer than that.
        hold_admission=HoldAdmission(
            settings.hold_admission_limit,
            min(settings.hold_admission_wait_seconds, settings.hold_seconds),
        ),
        catalog=catalog,
        users=PostgresUsers(engine),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine),
        seatmap=SeatMapCache(
            sync_redis,
            catalog,
            seat_locks,
            settings.redis_prefix,
            max_staleness_ms=settings.seatmap_max_staleness_ms,
        ),
        seatmap_events=RedisSeatMapEvents(sync_redis, settings.redis_prefix),
        responses=SeatMapResponseCache(
            async_redis, settings.redis_prefix, settings.seatmap_max_staleness_ms
        ),
        # The pointer outlives the hold a little so an expired checkout is found and replaced.
        open_checkouts=RedisOpenCheckouts(
            sync_redis,
            settings.redis_prefix,
            ttl_seconds=settings.hold_seconds * (settings.max_hold_extensions + 1) + 60,
        ),
        tokens=TokenService(settings.jwt_secret, settings.jwt_algorithm, settings.jwt_ttl_seconds),
        temporal=TemporalConnector(
            temporal_address, settings.temporal_namespace, client=temporal_client
        ),
        rate_limiter=RateLimiter(
            async_redis,
            settings.redis_prefix,
            per_user=settings.rate_limit_per_user,
            per_ip=settings.rate_limit_per_ip,
            enabled=settings.rate_limit_enabled,
        ),
        default_payment_token=TOKEN_APPROVE if settings.payment_processor == "sandbox" else None,
    )
