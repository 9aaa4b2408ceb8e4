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

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"


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
    dynamodb_max_attempts: int = 5

    # --- PostgreSQL ---
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_lock_timeout_ms: int = 2000

    # --- checkout rules ---
    hold_seconds: int = 300
    max_hold_extensions: int = 2
    max_seats_per_checkout: int = 10
    payment_processor: Literal["sandbox"] = "sandbox"
    # Start-to-close of a checkout's workflow tasks, twice Temporal's default of 10 s. A
    # payment's task runs its four local activities back to back, and on a loaded server that
    # can take longer than 10 s: the task times out, its local activities run again, and the
    # load grows. The price of a longer timeout: a task the dev server loses in dispatch
    # (History slower than Matching's 1 s deadline to record a sync-matched start, so the
    # task's next delivery is dropped as TaskAlreadyStarted: temporalio/temporal#11733)
    # stalls its checkout for the whole timeout. So: long enough for a payment's task on a
    # loaded server, and no longer.
    checkout_task_timeout_seconds: int = 20

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
    seatmap_max_staleness_ms: int = 1000
    # Holds each API process lets through to the saga at once; the rest wait in line, and past
    # hold_admission_wait_seconds are answered TRY_AGAIN (api/admission.py). 0: no bound.
    # Bounds the calls in flight at the Temporal server, whose time per call grows with them
    # (the value's measurements: docs/measurements.md).
    hold_admission_limit: int = 24
    hold_admission_wait_seconds: float = 60.0

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
        if self.environment != "development" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "JWT_SECRET still has its development default; set a real secret when "
                f"ENVIRONMENT={self.environment}"
            )
        if len(self.jwt_secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
