"""The composition root: the one place where settings meet real adapters.

The API's lifespan (``api/app.py``), the worker (``python -m worker``), the benchmark and the
tests all build what they run here, so the tests run the saga with the wiring production runs.
Nothing connects at import, nor here: pools and clients open on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio.retry
import redis.retry
from prometheus_client import REGISTRY
from redis.backoff import ExponentialBackoff
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.checkout import CheckoutActivities
from activities.events import EventActivities
from activities.reconciler import ReconcilerActivities
from adapters.bookings import PostgresBookingStore
from adapters.catalog import EventCatalog
from adapters.checkout_client import CheckoutClient
from adapters.claimed_seat_locks import ClaimedSeatLocks
from adapters.claims_mirror import ClaimsMirror
from adapters.db import make_engine
from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.event_sales import EventSales
from adapters.inventory import PostgresCatalog
from adapters.open_checkouts import RedisOpenCheckouts
from adapters.payments import TOKEN_APPROVE, SandboxPayments
from adapters.reconciler import ReconcilerStore
from adapters.seat_claims import SeatClaimRecorder, SeatClaims
from adapters.seat_locks import DynamoSeatLocks
from adapters.seatmap_cache import RedisSeatMapEvents, SeatMapCache
from adapters.users import PostgresUsers
from adapters.waiting_room import RedisWaitingRooms
from adapters.waiting_room_pace import finished_checkouts_query
from adapters.waiting_room_service import HoldLatency, WaitingRoom
from adapters.watched_redis import WatchedAsyncRedis, WatchedRedis, redis_down
from api.account_throttle import AccountThrottle
from api.admission import HoldAdmission
from api.auth import TokenService
from api.backend_watch import (
    CACHE,
    CHECKOUT,
    PAYMENT,
    REDIS_CALL,
    BackendWatch,
    Check,
    payment_under_way,
)
from api.health import cache_check
from api.health import checks as backend_checks
from api.ratelimit import RateLimiter
from api.resolvers.subscriptions import seat_map_feeds
from api.response_cache import SeatMapResponseCache
from api.services import Services, TemporalConnector, run_sync
from config.settings import Settings
from workflows.checkout import CheckoutWorkflow
from workflows.contract import CheckoutInput
from workflows.event_cancellation import EventCancellationWorkflow
from workflows.event_lifecycle import EventLifecycleWorkflow
from workflows.reconciler import ReconcilerWorkflow

# --- outbound calls: the settings' timeouts and bounded retries (config/settings.py says why) ---


def _redis_backoff(settings: Settings) -> ExponentialBackoff:
    base = settings.redis_retry_backoff_seconds
    return ExponentialBackoff(cap=base * 4, base=base)


# What a Redis call is retried on: a dropped connection, which a new one rides out at once.
# Not a timeout: a server that did not answer within the socket timeout (frozen, or
# unreachable) would only be waited for once more, doubling the caller's stall.
_REDIS_RETRIED_ON = (redis.exceptions.ConnectionError,)


def redis_options(settings: Settings) -> dict[str, Any]:
    """A synchronous Redis client's timeouts and its bounded retry."""
    return {
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        "socket_timeout": settings.redis_socket_timeout_seconds,
        "retry": redis.retry.Retry(
            _redis_backoff(settings), settings.redis_retries, _REDIS_RETRIED_ON
        ),
    }


def async_redis_options(settings: Settings) -> dict[str, Any]:
    """The same for an asyncio client (redis-py's asyncio clients take their own Retry)."""
    return {
        **redis_options(settings),
        "retry": redis.asyncio.retry.Retry(
            _redis_backoff(settings), settings.redis_retries, _REDIS_RETRIED_ON
        ),
    }


def temporal_connect_options(settings: Settings) -> dict[str, Any]:
    """``Client.connect`` keywords: the connection's timeout and the SDK's bounded RPC retry."""
    return {
        "connect_timeout": timedelta(seconds=settings.temporal_connect_timeout_seconds),
        "retry_config": RetryConfig(
            max_retries=settings.temporal_rpc_max_retries,
            max_elapsed_time_millis=int(settings.temporal_rpc_retry_max_seconds * 1000),
        ),
    }


@dataclass
class Backends:
    """The adapters the saga's steps use, on one set of connections (the worker's; the API
    reads the seat locks and writes bookings through the same kinds)."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    dynamodb: Any
    locks: ClaimedSeatLocks
    catalog: PostgresCatalog
    bookings: PostgresBookingStore
    payments: SandboxPayments
    seat_map: RedisSeatMapEvents
    closers: list[Callable[[], object]] = field(default_factory=list)

    def activities(self) -> CheckoutActivities:
        return CheckoutActivities(
            locks=self.locks,
            catalog=self.catalog,
            bookings=self.bookings,
            payments=self.payments,
            seat_map=self.seat_map,
            default_payment_token=default_payment_token(self.settings),
        )

    def event_activities(self, client: Client) -> EventActivities:
        """The event lifecycle's and cancellation's steps (``client``: to cancel checkouts)."""
        return EventActivities(
            sales=EventSales(self.engine, lock_timeout_ms=self.settings.db_lock_timeout_ms),
            bookings=self.bookings,
            payments=self.payments,
            seat_map=self.seat_map,
            temporal=client,
        )

    def reconciler_activities(self, client: Client) -> ReconcilerActivities:
        """The reconciler's steps (``client``: to ask whether a checkout is live)."""
        return ReconcilerActivities(
            store=ReconcilerStore(self.engine, self.payments),
            payments=self.payments,
            bookings=self.bookings,
            seat_map=self.seat_map,
            temporal=client,
        )

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def default_payment_token(settings: Settings) -> str | None:
    """The sandbox approves a missing card token; a real processor must get one."""
    return TOKEN_APPROVE if settings.payment_processor == "sandbox" else None


def redis_url(settings: Settings) -> str:
    return settings.redis_url or "redis://127.0.0.1:6379/0"


def database(settings: Settings) -> Engine:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (start the stack with `make dev`)")
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_timeout_s=settings.db_connect_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )


def dynamodb(settings: Settings, max_pool_connections: int | None = None) -> Any:
    extra = {} if max_pool_connections is None else {"max_pool_connections": max_pool_connections}
    return make_client(
        settings.dynamodb_endpoint,
        region=settings.aws_region,
        access_key=settings.aws_access_key_id,
        secret_key=settings.aws_secret_access_key,
        max_attempts=settings.dynamodb_max_attempts,
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=settings.dynamodb_read_timeout_seconds,
        **extra,
    )


def seat_locks(settings: Settings, client: Any, cache: redis.Redis) -> ClaimedSeatLocks:
    """DynamoDB's locks, with every grant and release recorded over the Redis claims."""
    return ClaimedSeatLocks(
        DynamoSeatLocks(client, settings.seat_lock_table),
        SeatClaimRecorder(cache, settings.redis_prefix),
    )


def build_backends(settings: Settings) -> Backends:
    """The worker's adapters (``Backends.activities()`` gives the saga's steps)."""
    engine = database(settings)
    client = dynamodb(settings, max_pool_connections=activity_threads(settings))
    ensure_seat_lock_table(client, settings.seat_lock_table)
    # Its calls fail at once while the worker's watch says Redis is down (watch_redis).
    cache = WatchedRedis.from_url(redis_url(settings), **redis_options(settings))
    return Backends(
        settings=settings,
        engine=engine,
        redis=cache,
        dynamodb=client,
        locks=seat_locks(settings, client, cache),
        catalog=PostgresCatalog(engine),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        seat_map=RedisSeatMapEvents(cache, settings.redis_prefix),
        closers=[engine.dispose, cache.close],
    )


def build_event_activities(settings: Settings, client: Client) -> EventActivities:
    """The event steps on their own connections, for a worker given its checkout activities
    (a test's): they need PostgreSQL, Redis and the payments, not DynamoDB."""
    engine = database(settings)
    cache = redis.Redis.from_url(redis_url(settings), **redis_options(settings))
    return EventActivities(
        sales=EventSales(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        seat_map=RedisSeatMapEvents(cache, settings.redis_prefix),
        temporal=client,
    )


def build_reconciler_activities(settings: Settings, client: Client) -> ReconcilerActivities:
    """The reconciler's steps on their own connections, for a worker given its checkout
    activities (a test's): PostgreSQL, Redis and the payments."""
    engine = database(settings)
    cache = redis.Redis.from_url(redis_url(settings), **redis_options(settings))
    payments = SandboxPayments(engine, lock_timeout_ms=settings.db_lock_timeout_ms)
    return ReconcilerActivities(
        store=ReconcilerStore(engine, payments),
        payments=payments,
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        seat_map=RedisSeatMapEvents(cache, settings.redis_prefix),
        temporal=client,
    )


def checkout_client(settings: Settings, client: Client, **overrides: Any) -> CheckoutClient:
    """How the API starts and drives checkouts (``overrides``: e.g. a test's hold length)."""
    options: dict[str, Any] = {
        "hold_seconds": settings.hold_seconds,
        "max_extensions": settings.max_hold_extensions,
        "max_seats": settings.max_seats_per_checkout,
        "task_timeout": timedelta(seconds=settings.checkout_task_timeout_seconds),
        "call_seconds": settings.api_temporal_call_seconds,
    }
    return CheckoutClient(client, settings.task_queue, **{**options, **overrides})


def backend_watch(settings: Settings, services: Services) -> BackendWatch:
    """The API's backend watch. Its probes use connections of their own (one each, no retry:
    a probe is one try), so one never waits for a pool or a thread the requests hold; Temporal's
    is the API's client (a gRPC channel does not queue a health check behind updates)."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (start the stack with `make dev`)")
    timeout = settings.health_check_seconds
    engine = make_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        connect_timeout_s=settings.db_connect_timeout_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    cache = _probe_redis(settings)
    return BackendWatch(
        backend_checks(
            engine,
            cache,
            dynamodb(settings, max_pool_connections=1),
            settings.seat_lock_table,
            services.temporal,
        ),
        interval_seconds=settings.backend_watch_interval_seconds,
        timeout_seconds=timeout,
        down_after=settings.backend_down_after_failures,
        on_stop=(engine.dispose, cache.close),
    )


def _probe_redis(settings: Settings) -> redis.Redis:
    """A watch's own Redis connection: the probe's timeout, no retry (a probe is one try)."""
    timeout = settings.health_check_seconds
    return redis.Redis.from_url(
        redis_url(settings), socket_connect_timeout=timeout, socket_timeout=timeout, retry=None
    )


def watch_redis(settings: Settings, cache: redis.Redis) -> BackendWatch:
    """The worker's watch of Redis, by the API's rule (``api/backend_watch.py``): while it
    says Redis is down, ``cache``'s calls (a WatchedRedis: the claims' records and drops,
    the seat map's announcements, all with a fallback) fail at once instead of each waiting
    out its socket timeout, which a hold step or a release made twice in a row. Start it on
    the worker's loop; stop it at the end."""
    probe = _probe_redis(settings)
    watch = BackendWatch(
        {CACHE: Check(cache_check(probe), in_thread=True)},
        interval_seconds=settings.backend_watch_interval_seconds,
        timeout_seconds=settings.health_check_seconds,
        down_after=settings.backend_down_after_failures,
        on_stop=(probe.close,),
    )
    if isinstance(cache, WatchedRedis):
        cache.down_now = lambda: watch.down(REDIS_CALL)
    return watch


def build_services(settings: Settings, temporal_client: Client | None = None) -> Services:
    """Everything the API talks to; connections open lazily on first use."""
    engine = database(settings)
    url = redis_url(settings)
    # Their calls give up at once while the backend watch says Redis is down (set below).
    sync_redis = WatchedRedis.from_url(url, max_connections=128, **redis_options(settings))
    async_redis = WatchedAsyncRedis.from_url(url, **async_redis_options(settings))
    client = dynamodb(settings)
    locks = seat_locks(settings, client, sync_redis)
    catalog = EventCatalog(engine)
    temporal_address = settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    services = Services(
        settings=settings,
        engine=engine,
        redis=sync_redis,
        aredis=async_redis,
        dynamodb=client,
        seat_locks=locks,
        claims=SeatClaims(async_redis, settings.redis_prefix),
        claims_mirror=ClaimsMirror(url, async_redis, settings.redis_prefix),
        # Past its claim's expiry (one hold length) a waiting hold no longer keeps other
        # buyers off its seats, so it waits no longer than that.
        hold_admission=HoldAdmission(
            settings.hold_admission_limit,
            min(settings.hold_admission_wait_seconds, settings.hold_seconds),
        ),
        catalog=catalog,
        users=PostgresUsers(engine),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        seatmap=SeatMapCache(
            sync_redis,
            catalog,
            locks,
            settings.redis_prefix,
            max_staleness_ms=settings.seatmap_max_staleness_ms,
        ),
        seatmap_events=RedisSeatMapEvents(sync_redis, settings.redis_prefix),
        responses=SeatMapResponseCache(
            async_redis, settings.redis_prefix, settings.seatmap_max_staleness_ms
        ),
        # The pointer outlives the longest a checkout can stay open (every extension, then the
        # payment grace) so one buyer never gets a second open checkout of an event.
        open_checkouts=RedisOpenCheckouts(
            sync_redis,
            settings.redis_prefix,
            ttl_seconds=settings.hold_seconds * (settings.max_hold_extensions + 1)
            + CheckoutInput.payment_grace_seconds
            + 60,
        ),
        tokens=TokenService(settings.jwt_secret, settings.jwt_algorithm, settings.jwt_ttl_seconds),
        temporal=TemporalConnector(
            temporal_address,
            settings.temporal_namespace,
            # Called on first use, once services.backends is set below: the checkout
            # client's calls wait only while the backends they need answer.
            lambda client: checkout_client(
                settings,
                client,
                payment_guard=services.backends.guarding(PAYMENT, payment_under_way),
                call_guard=services.backends.guarding(CHECKOUT),
            ),
            client=temporal_client,
            connect_options=temporal_connect_options(settings),
        ),
        rate_limiter=RateLimiter(
            async_redis,
            settings.redis_prefix,
            per_user=settings.rate_limit_per_user,
            per_ip=settings.rate_limit_per_ip,
            enabled=settings.rate_limit_enabled,
        ),
        account_throttle=AccountThrottle(
            async_redis,
            settings.redis_prefix,
            login_failures_per_account=settings.rate_limit_login_failures_per_account,
            login_per_ip=settings.rate_limit_login_per_ip,
            registrations_per_ip=settings.rate_limit_registrations_per_ip,
            enabled=settings.rate_limit_enabled,
        ),
        default_payment_token=default_payment_token(settings),
    )
    services.waiting_room = waiting_room(settings, services)
    services.seat_map_feeds = seat_map_feeds(async_redis, settings.redis_prefix)
    services.backends = backend_watch(settings, services)
    watch = services.backends
    async_redis.guard = watch.guarding(REDIS_CALL, redis_down)
    sync_redis.down_now = lambda: watch.down(REDIS_CALL)
    return services


def waiting_room(settings: Settings, services: Services) -> WaitingRoom:
    """The waiting rooms on the API's connections: the seats left from the seat-map cache, the
    saga's pace from Temporal (finished checkouts) and the hold histogram (latency)."""

    async def available(event_id: str) -> int:
        return (await run_sync(services.seatmap.available_count, event_id))[0]

    async def finished(event_id: str) -> int:
        client = await services.temporal.client()
        return (await client.count_workflows(finished_checkouts_query(event_id))).count

    def saga_hold_seconds() -> tuple[float, float]:
        labels = {"step": "saga"}
        total = REGISTRY.get_sample_value("api_hold_step_seconds_sum", labels)
        count = REGISTRY.get_sample_value("api_hold_step_seconds_count", labels)
        return total or 0.0, count or 0.0

    return WaitingRoom(
        settings,
        RedisWaitingRooms(services.aredis, settings.redis_prefix),
        services.engine,
        run_sync,
        available,
        finished,
        HoldLatency(saga_hold_seconds),
    )


# --- the worker ---


def build_worker(
    settings: Settings,
    client: Client,
    activities: CheckoutActivities | None = None,
    event_activities: EventActivities | None = None,
    reconciler_activities: ReconcilerActivities | None = None,
) -> Worker:
    """A worker on the settings' task queue: checkouts, events' lifecycles and cancellations,
    and the reconciler.

    ``activities`` and ``event_activities`` default to the production ones (on
    ``build_backends(settings)``); a test may wrap them to inject faults."""
    if activities is None:
        backends = build_backends(settings)
        activities = backends.activities()
        event_activities = event_activities or backends.event_activities(client)
        reconciler_activities = reconciler_activities or backends.reconciler_activities(client)
    if event_activities is None:
        event_activities = build_event_activities(settings, client)
    if reconciler_activities is None:
        reconciler_activities = build_reconciler_activities(settings, client)
    return Worker(
        client,
        graceful_shutdown_timeout=timedelta(seconds=20),
        task_queue=settings.task_queue,
        workflows=[
            CheckoutWorkflow,
            EventLifecycleWorkflow,
            EventCancellationWorkflow,
            ReconcilerWorkflow,
        ],
        workflow_runner=workflow_runner(settings),
        activities=[*activities.all(), *event_activities.all(), *reconciler_activities.all()],
        # one thread per activity slot, local or not (see config/settings.py)
        activity_executor=ThreadPoolExecutor(max_workers=activity_threads(settings)),
        max_concurrent_activities=_activity_slots(settings),
        max_concurrent_local_activities=_local_activity_slots(settings),
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_task_poller_behavior=_pollers(settings),
        activity_task_poller_behavior=_pollers(settings),
    )


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """Outside the sandbox unless the settings ask for it (``worker_workflow_sandbox``)."""
    if not settings.worker_workflow_sandbox:
        return UnsandboxedWorkflowRunner()
    # Our own modules hold no mutable module state, so the sandbox may share them instead of
    # re-importing (recompiling) the workflow module for every new checkout. The sandbox's
    # runtime guards on non-deterministic calls still apply.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "workflows", "activities", "domain"
        )
    )


def _activity_slots(settings: Settings) -> int:
    return min(settings.worker_max_concurrent_activities, settings.worker_activity_threads)


def _local_activity_slots(settings: Settings) -> int:
    return min(settings.worker_max_concurrent_local_activities, settings.worker_activity_threads)


def activity_threads(settings: Settings) -> int:
    """Threads of the activity executor: activities and local activities share it."""
    return _activity_slots(settings) + _local_activity_slots(settings)


def _pollers(settings: Settings) -> PollerBehavior:
    """A fixed number of pollers, or scaled by the SDK when configured as 0. More polls
    waiting at the server mean faster pickup of new checkouts' first tasks, but more tasks
    sync-matched, which the dev server loses when its History is slow (``config/settings.py``)."""
    if settings.worker_task_pollers > 0:
        return PollerBehaviorSimpleMaximum(maximum=settings.worker_task_pollers)
    return PollerBehaviorAutoscaling(maximum=settings.worker_max_pollers)
