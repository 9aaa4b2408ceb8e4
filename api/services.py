"""Everything the API talks to: built by ``bootstrap.build_services`` in the app's lifespan.

The sync adapters (SQLAlchemy, boto3, redis-py) are called through ``run_sync`` so the event
loop never blocks on I/O; the hot path's Redis adapters (claims, the response cache, rate
limits) use ``redis.asyncio`` directly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
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
from adapters.claims_mirror import ClaimsMirror
from adapters.open_checkouts import RedisOpenCheckouts
from adapters.payments import SandboxPayments
from adapters.seat_claims import SeatClaims
from adapters.seatmap_cache import RedisSeatMapEvents, SeatMapCache
from adapters.temporal_converter import DATA_CONVERTER
from adapters.users import PostgresUsers
from adapters.waiting_room_service import WaitingRoom
from api.account_throttle import AccountThrottle
from api.admission import HoldAdmission
from api.auth import TokenService
from api.backend_watch import BackendWatch
from api.ratelimit import RateLimiter
from api.response_cache import SeatMapResponseCache
from api.seat_map_feeds import SeatMapFeeds
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

    def __init__(
        self,
        address: str,
        namespace: str,
        make_checkouts: Callable[[Client], CheckoutClient],
        client: Client | None = None,
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        self._address = address
        # timeouts and retry (bootstrap.temporal_connect_options)
        self._connect_options = connect_options or {}
        self._namespace = namespace
        self._make_checkouts = make_checkouts
        self._client = client
        self._checkouts: CheckoutClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await Client.connect(
                        self._address,
                        namespace=self._namespace,
                        data_converter=DATA_CONVERTER,
                        **self._connect_options,
                    )
        return self._client

    async def checkouts(self) -> CheckoutClient:
        if self._checkouts is None:
            self._checkouts = self._make_checkouts(await self.client())
        return self._checkouts


@dataclass
class Services:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    aredis: aredis.Redis
    dynamodb: Any
    seat_locks: ClaimedSeatLocks
    claims: SeatClaims
    claims_mirror: ClaimsMirror
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
    account_throttle: AccountThrottle
    default_payment_token: str | None
    # the waiting rooms (adapters/waiting_room_service.py); set by bootstrap.build_services,
    # their clocks started by the app's lifespan
    waiting_room: WaitingRoom | None = None
    # one subscription per event's seat-map channel, shared by the pages following it here
    # (api/seat_map_feeds.py); set by bootstrap.build_services
    seat_map_feeds: SeatMapFeeds | None = None
    # which backends answer (api/backend_watch.py); set by bootstrap.build_services, started
    # by the app's lifespan
    backends: BackendWatch = field(default_factory=lambda: BackendWatch({}, 1.0, 1.0, 2))

    async def checkouts(self) -> CheckoutClient:
        return await self.temporal.checkouts()

    async def close(self) -> None:
        if self.seat_map_feeds is not None:
            await self.seat_map_feeds.aclose()
        await self.claims_mirror.close()
        await self.aredis.aclose()
        self.redis.close()
        self.engine.dispose()
