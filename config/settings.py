"""Every setting of the platform, with its default, in one place.

Read from the environment (upper-case names, e.g. ``DATABASE_URL``) or an optional ``.env``.
A service URL left unset means "start an embedded one" in the dev stack and the tests.
A comment says why a default is what it is; the figures behind it are in
``docs/measurements.md``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.production import DEV_JWT_SECRET, jwt_secret_problem

__all__ = ["DEV_JWT_SECRET", "Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"

    # --- services (None: the dev stack starts an embedded one) ---
    database_url: str | None = None
    redis_url: str | None = None
    dynamodb_endpoint: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"

    # --- where the dev stack keeps its data and which ports it uses ---
    devstack_dir: str = ".devstack"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    moto_port: int = 5000

    # --- isolation: each test run / deployment gets its own names ---
    task_queue: str = "checkout"
    seat_lock_table: str = "seat-locks"
    redis_prefix: str = "tb:"

    # --- AWS (moto accepts any credentials) ---
    aws_region: str = "us-east-1"
    aws_access_key_id: str = "testing"
    aws_secret_access_key: str = "testing"

    # --- PostgreSQL ---
    db_pool_size: int = 10
    db_max_overflow: int = 20

    # --- outbound calls: every timeout and bounded retry, in one place ---
    # bootstrap.py applies these to every client it builds (API and worker alike). A backend
    # that is down must cost a caller seconds, never minutes: the saga's steps have 10 s per
    # attempt (workflows/checkout.py), and a hold must be answered within 5 s.
    # PostgreSQL: a connection attempt to an unreachable server fails after this (psycopg's
    # connect_timeout; the pool's pre-ping then tries a fresh one on the next checkout).
    db_connect_timeout_seconds: int = 3
    # No statement runs longer than this (PostgreSQL's statement_timeout, set per connection):
    # below the saga's 10 s per step, so a stuck statement fails its attempt instead of
    # outliving it. Reports and refund pages stay well under it.
    db_statement_timeout_ms: int = 8000
    # How long a transaction waits for a row lock (bookings, payments) before a retryable
    # LOCK_CONTENTION, instead of queueing behind a flash-sale crowd.
    db_lock_timeout_ms: int = 2000
    # Redis: short, because every Redis read has a fallback (the seat map reads PostgreSQL,
    # the claims fail open to DynamoDB): a frozen Redis must not stall the caller. One retry
    # after a short backoff rides out a dropped connection (only that: a timed-out call is
    # not sent again, bootstrap.py); redis-py's default (3 retries with up to 10 s backoff)
    # turned "fail open" into multi-second stalls. Not shorter: an asyncio client's timeout
    # runs on the API's event loop, which a sale keeps busy. While the backend watch says
    # Redis is down, the API's and the worker's calls fail at once (adapters/watched_redis.py).
    # The claims mirror's subscriber keeps its own connection that never retries
    # (adapters/claims_mirror.py).
    redis_connect_timeout_seconds: float = 0.5
    redis_socket_timeout_seconds: float = 2.0
    redis_retries: int = 1
    redis_retry_backoff_seconds: float = 0.05
    # DynamoDB (botocore): connect and read timeouts per attempt, and the attempts in all
    # (botocore's adaptive mode retries throttling and transport errors; never by hand).
    dynamodb_connect_timeout_seconds: float = 2.0
    dynamodb_read_timeout_seconds: float = 5.0
    dynamodb_max_attempts: int = 3
    # Temporal client (API and worker): the first connection's timeout, and the SDK's retry of
    # each RPC, bounded in count and in time. Per-call deadlines beyond this are the callers'
    # (adapters/checkout_client.py bounds its update retries).
    temporal_connect_timeout_seconds: float = 5.0
    temporal_rpc_max_retries: int = 5
    temporal_rpc_retry_max_seconds: float = 10.0
    # Payments: the sandbox processor is PostgreSQL tables (adapters/payments.py), so its calls
    # carry the PostgreSQL timeouts above, db_lock_timeout_ms included; the saga's activity
    # retry policies bound its retries (workflows/checkout.py).
    # The API tells an outage from load (api/backend_watch.py). A flash sale makes holds slow
    # (the admission line, a busy Temporal: p50 ~5 s, p99 ~10-18 s on a busy box), and slow is
    # not down, so no call is refused for taking long. Instead one task per API process probes
    # each backend (api/health.py's checks, on connections of its own) every
    # backend_watch_interval_seconds; a probe not answered within health_check_seconds fails,
    # and backend_down_after_failures failures in a row mark the backend down (one answer marks
    # it up). A hold, a payment or a seat-map read needing a backend that is down is answered
    # TRY_AGAIN / SERVICE_UNAVAILABLE at once, and one already waiting is cancelled then: a
    # frozen backend is answered within interval + failures x timeout (~3 s), a refused one
    # within ~2 s. /health/ready reports the same state.
    backend_watch_interval_seconds: float = 1.0
    health_check_seconds: float = 1.0
    backend_down_after_failures: int = 2
    # Backstops for what the watch cannot see (a backend that answers its probe but not the
    # call), so long that load never reaches them:
    # - one hold's (or payment's, until accepted) call to Temporal once admitted, its retries
    #   included (adapters/checkout_client.py): above a lost first workflow task's wait
    #   (checkout_task_timeout_seconds) plus the update's re-sends (~6 s) plus a busy server's
    #   answer. Past it: TRY_AGAIN, claims dropped, the new checkout cancelled in the background.
    #   The admission line's wait (hold_admission_wait_seconds) comes before it, not in it;
    api_temporal_call_seconds: float = 60.0
    # - every GraphQL request over HTTP (api/graphql_http.py): past it SERVICE_UNAVAILABLE (503,
    #   retryable). Above the admission wait plus the Temporal call (a validator holds it there),
    #   so it never cuts a hold that is merely queued; it bounds what the watch and the calls'
    #   own timeouts miss (a payment's outcome is waited for up to it, then read again).
    api_answer_seconds: float = 150.0

    # --- checkout rules ---
    hold_seconds: int = 300
    max_hold_extensions: int = 2
    max_seats_per_checkout: int = 10
    payment_processor: Literal["sandbox"] = "sandbox"
    # The sandbox approves a missing card token, so production refuses it unless this says the
    # deployment means it (a demo, the compose stack): config/production.py.
    allow_sandbox_payments_in_production: bool = False
    # Start-to-close of a checkout's workflow tasks, twice Temporal's default of 10 s. A
    # payment's task runs its four local activities back to back, and on a loaded server that
    # can take longer than 10 s: the task times out, its local activities run again, and the
    # load grows. The price of a longer timeout: a task the dev server loses in dispatch
    # (History slower than Matching's 1 s deadline to record a sync-matched start, so the
    # task's next delivery is dropped as TaskAlreadyStarted: temporalio/temporal#11733)
    # stalls its checkout for the whole timeout. So: long enough for a payment's task on a
    # loaded server, and no longer.
    checkout_task_timeout_seconds: int = 20

    # --- the reconciler (workflows/reconciler.py, a Temporal schedule the worker creates) ---
    # How often it runs; what it repairs must be at least reconciler_grace_seconds old, so it
    # never races a live saga (a saga's steps settle within seconds).
    reconciler_interval_seconds: int = 60
    reconciler_grace_seconds: int = 120
    # A running checkout past its longest possible life is flagged; this much later still, it
    # is terminated and its payment compensated by the reconciler's other rules.
    reconciler_terminate_after_seconds: int = 3600

    # --- the waiting room (domain/waiting_room.py, api/resolvers/queue.py) ---
    # An admitted buyer must hold within this, or loses the turn; an admission lives as long
    # (the buyer is told when it ends). Short, because an unused turn keeps seats from the next
    # buyers: 30 s is for choosing seats; paying has the hold's own time.
    waiting_room_turn_seconds: int = 30
    # Admissions per second at the opening, before the saga's pace is measured, and never
    # fewer; the operator's ceiling: never more (an override when the measured pace is wrong).
    waiting_room_min_rate: float = 20.0
    waiting_room_max_rate: float = 200.0
    # Admit this many times what the saga completes per second, so the pace can grow while
    # holds stay under the latency target; slower holds scale admission down in proportion.
    waiting_room_headroom: float = 1.5
    waiting_room_hold_latency_target_ms: int = 2000
    # Seats one admitted buyer is expected to take: no more unused turns than the available
    # seats can serve (a buyer admitted to an empty seat map would only be turned away). Only
    # a first guess: the room starts from the platform's recent orders when it has any, and
    # follows what its own turns take (domain/waiting_room.py, seats_per_turn).
    waiting_room_seats_per_buyer: float = 2.5
    # How many of the platform's latest confirmed orders that start is read from (0: none).
    waiting_room_order_size_sample: int = 1000
    # How held seats come back (domain/waiting_room.py, expected_returns), for the ETAs and
    # for admitting ahead of returns: buyers who pay do so within waiting_room_pay_seconds of
    # holding (a seat still held after that comes back at its hold's expiry); of the seats
    # held, the failed share comes back then (the payment failed) and the abandoned share at
    # the hold's expiry. The seats expected back within waiting_room_return_lead_seconds admit
    # buyers ahead of time, so they are there, seat map read, when the seats are.
    waiting_room_pay_seconds: float = 60.0
    waiting_room_failed_share: float = 0.1
    # The failed share is measured on the sale's payments, by the second they were submitted,
    # once this long has passed (a decline is answered at once, an approval only once captured
    # and booked: the payments answered so far over-count the declines).
    waiting_room_payment_settle_seconds: float = 10.0
    waiting_room_abandoned_share: float = 0.1
    waiting_room_return_lead_seconds: float = 5.0
    # The ETAs' model of admitted buyers (domain/waiting_room_forecast.py): how long after its
    # turn is given a buyer holds (a status poll, the seat map, a hold; a person choosing seats
    # takes longer than the bench's scripted buyers); a first guess, which the median wait for a
    # first hold of the sale's own turns replaces once 5 have held, and the least it counts
    # until most of them hold within it (domain.waiting_room.hold_after_ms): a guess for an
    # opening's crush, when buyers see their turn only once their ask gets through the crowd's
    # joins. When the saga falls behind (holds slower than the latency target), buyers hold as
    # fast as it completes checkouts.
    waiting_room_hold_after_seconds: float = 10.0
    # ...and the share of turns that end unused (the buyer left, or saw the turn too late): a
    # first guess, which the sale's first holds and unused turns replace within seconds, and
    # the turns whose deadline has passed as they come (domain/waiting_room.py).
    waiting_room_lost_share: float = 0.1
    # How often the pace is measured (one count of the event's finished checkouts at Temporal).
    waiting_room_measure_seconds: float = 2.0

    # --- worker ---
    # Activities and local activities each get at most worker_activity_threads slots, and the
    # executor a thread per slot: a sync activity occupies a thread, and one admitted without a
    # thread waits in the executor's queue while its timeout runs.
    worker_max_concurrent_activities: int = 200
    worker_max_concurrent_local_activities: int = 200
    worker_activity_threads: int = 64
    # Workflow tasks admitted at once. Each holds its slot while it waits for its local
    # activity and for the server's answer, so too few slots queue tasks at the server, and
    # every hold waits behind them.
    worker_max_concurrent_workflow_tasks: int = 200
    # Task pollers per queue: n > 0 keeps exactly n; 0 lets the SDK scale them
    # (1..worker_max_pollers) from what the server answers. Fixed, because the dev server
    # loses sync-matched workflow tasks whenever History is slower than Matching's 1 s deadline
    # (see checkout_task_timeout_seconds), and scaled pollers lose far more of them. More
    # pollers pick up a new checkout's first task sooner but have more tasks sync-matched;
    # each worker's pollers must still keep up with its tasks.
    worker_task_pollers: int = 20
    # The ceiling when scaling (worker_task_pollers = 0): the more pollers wait at the server,
    # the more tasks the dev server loses.
    worker_max_pollers: int = 20
    # Workflows run outside Temporal's sandbox: the sandbox costs the worker CPU on every
    # workflow task (among other things the SDK exec-s a code string for every payload's
    # serialization context), and the worker's CPU is part of what bounds the saga. The sandbox
    # stays on in the tests and in the replay of recorded histories, so a non-deterministic
    # call in workflow code still fails CI.
    worker_workflow_sandbox: bool = False

    # --- API ---
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithm: str = "HS256"
    jwt_ttl_seconds: int = 12 * 3600
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:3000"])
    rate_limit_enabled: bool = True
    rate_limit_per_user: str = "600/minute"
    rate_limit_per_ip: str = "3000/minute"
    graphql_max_depth: int = 10
    # Aliases let one request ask for a field many times (seat maps, holds), and the rate
    # limits count the request once: this bounds what one request can make the API do.
    graphql_max_root_fields: int = 10
    graphql_max_root_mutations: int = 1
    graphql_max_query_bytes: int = 20_000
    # GraphiQL and schema introspection; unset: on outside production, off in it (production
    # refuses true: config/production.py).
    graphql_explorer: bool | None = None
    # Addresses (comma-separated; CIDR ranges too) whose X-Forwarded-For/-Proto the API
    # believes: the load balancer's. The API applies them itself (api/app.py), and uvicorn
    # reads the same variable; production refuses "*".
    forwarded_allow_ips: str = "127.0.0.1"
    seatmap_max_staleness_ms: int = 1000
    # Holds each API process lets through to the saga at once; the rest wait in line, and past
    # hold_admission_wait_seconds are answered TRY_AGAIN (api/admission.py). 0: no bound.
    # Bounds the calls in flight at the Temporal server, whose time per call grows with them
    # (the value's measurements: docs/measurements.md).
    hold_admission_limit: int = 24
    hold_admission_wait_seconds: float = 60.0

    # --- abuse limits: sign-in, registration and the websocket (api/account_throttle.py,
    # api/websocket.py). Off with RATE_LIMIT_ENABLED=false, like the request limits. ---
    # Failed sign-ins per account (its email, known or not) before the next is refused; a
    # success clears the count. Low enough to stop guessing, a minute so a typo costs little.
    rate_limit_login_failures_per_account: str = "5/minute"
    # Sign-in attempts per client address, failed or not: each hashes a password (20 ms of CPU).
    rate_limit_login_per_ip: str = "30/minute"
    # Registrations per client address: accounts are what the per-buyer limits count.
    rate_limit_registrations_per_ip: str = "20/hour"
    # Websocket connections open at once per client address, per API process: a buyer's page
    # needs one (its subscriptions share it); room for a household or an office behind one NAT.
    ws_max_connections_per_ip: int = 50
    # Operations open at once on one connection (subscriptions, and a query or mutation being
    # answered): the buyer's page runs a few (queue, seat map, checkout progress).
    ws_max_subscriptions_per_connection: int = 20

    # --- process ---
    # Young-generation collections every n allocations after startup (config/gc_tuning.py);
    # 0 keeps CPython's 700. Higher makes full collections rarer, but each young collection
    # walks more objects and so pauses the process longer.
    gc_gen0_threshold: int = 10_000

    # --- observability ---
    log_level: str = "INFO"
    log_json: bool = True
    worker_metrics_port: int = 9464

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_development(self) -> Settings:
        # The rule lives in config/production.py; it holds in every environment but development.
        problem = jwt_secret_problem(self.environment, self.jwt_secret)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _request_cap_above_a_queued_hold(self) -> Settings:
        # A cap below a hold's longest legitimate wait would cut holds that are only queued:
        # under a flash sale's load that is most of them (the bench's collapse at 5 s).
        hold_wait = min(self.hold_admission_wait_seconds, self.hold_seconds)
        if self.api_answer_seconds <= hold_wait + self.api_temporal_call_seconds:
            raise ValueError(
                "API_ANSWER_SECONDS must exceed the admission wait "
                f"({hold_wait:g} s) plus API_TEMPORAL_CALL_SECONDS "
                f"({self.api_temporal_call_seconds:g} s)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
