"""Every setting of the platform, with its default, in one place.

Read from the environment (upper-case names, e.g. ``DATABASE_URL``) or an optional ``.env``.
A service URL left unset means "start an embedded one" in the dev stack and the tests.
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
    # Start-to-close of a checkout's workflow tasks: 20 s, twice Temporal's default. A
    # payment's task runs its four local activities back to back, and on a degraded server
    # some took longer than 10 s, so they timed out, their local activities ran again, and
    # the load grew: after the ceilings section, a 10,000-buyer sale had 43 timed-out tasks
    # (38 of them not a checkout's first), pay p99 26.3 s, 73.5 s in all; at 20 s, 4 tasks,
    # pay p99 7.2 s, 52.1 s (python -m bench --sections ceilings,flash, one run each).
    # The price: a task the dev server loses in dispatch (Matching gave History 1 s to record
    # a sync-matched start, History took longer, and the task's next delivery was dropped as
    # TaskAlreadyStarted: temporalio/temporal#11733, counted by the bench's
    # temporal_server_metrics) now stalls its checkout for 20 s instead of 10. With fixed
    # pollers that is 0-3 tasks per sale, but one of them doubles a 10 s scaling sale. Earlier
    # measurements, with up to 100 scaled pollers: at 30 s, 9-39 episodes per sale and the
    # 2-worker scaling ratio 0.30-0.91; at 5 s, 119 (python -m bench --sections flash /
    # --sections scaling).
    checkout_task_timeout_seconds: int = 20

    # --- worker ---
    # Activities and local activities each get at most worker_activity_threads slots, and the
    # executor a thread per slot: a sync activity occupies a thread, and one admitted without a
    # thread waits in the executor's queue while its timeout runs.
    worker_max_concurrent_activities: int = 200
    worker_max_concurrent_local_activities: int = 200
    worker_activity_threads: int = 64
    # Workflow tasks admitted at once. Each holds its slot while it waits for its local
    # activity and for the server's answer, so too few slots queue tasks at the server: at 40,
    # a 10,000-buyer sale's hold p50 was 8.4-11.8 s (workflow-task schedule-to-start 3-4 s),
    # against 4.9-6.3 s at 200, though only 0-3 tasks timed out (python -m bench --sections
    # flash).
    worker_max_concurrent_workflow_tasks: int = 200
    # Task pollers per queue: n > 0 keeps exactly n; 0 lets the SDK scale them
    # (1..worker_max_pollers) from what the server answers. Fixed, because the dev server
    # loses sync-matched workflow tasks whenever History is slower than Matching's 1 s deadline
    # (see checkout_task_timeout_seconds), and scaled pollers lost far more of them. Timed-out
    # tasks in a 10,000-buyer sale (python -m bench --sections flash): up to 20 scaled 5-63 over
    # 7 runs of one day, 20 fixed 3, 10 fixed 1-2. In the 2,000-buyer scaling sales (1 and 2
    # workers, ABBA): scaled 12 lost over 4 sales; 10 or 20 fixed, none over the first 8 and
    # 12 over 32 in all, 10 of them with 2 workers (twice the polls). Each worker's pollers
    # must still keep up with the tasks: at 10, a first task waited 1.6-2.3 s for a poll on
    # average in the big sale, at 20 1.5 s.
    worker_task_pollers: int = 20
    # The ceiling when scaling (worker_task_pollers = 0). Up to 100 scaled pollers lost 68-101
    # tasks per sale, up to 20 scaled 5-63.
    worker_max_pollers: int = 20
    # Workflows run outside Temporal's sandbox. In a profile of the saga at 20 concurrent
    # checkouts, the worker (then the bottleneck, at one core) spent 26% of its GIL time in
    # the sandbox, 18% of it the SDK exec-ing a code string for every payload's
    # serialization context. Unsandboxed, the saga ran 8-17% faster (python -m bench
    # --sections saga, two runs each). The sandbox stays on in the tests and in the replay
    # of recorded histories, so a non-deterministic call in workflow code still fails CI.
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
    # Aliases let one request ask for a field many times: 277 seat maps (65 MB) or 30 holds
    # in one request, each counted once by the rate limits.
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
    # 0 keeps CPython's 700.
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
