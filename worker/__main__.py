"""``python -m worker``: runs checkout workflows and activities until SIGTERM/SIGINT.

Start several processes on one task queue to scale out; Temporal shares the work among them.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from adapters.temporal_converter import DATA_CONVERTER
from bootstrap import build_backends, build_worker, temporal_connect_options, watch_redis
from config.gc_tuning import tune_gc
from config.ports import port_is_free
from config.production import refuse_unsafe
from config.settings import get_settings
from worker.reconciler_schedule import ensure_reconciler_schedule

log = structlog.get_logger("worker")


def _runtime(metrics_port: int) -> Runtime | None:
    # Several workers on one machine: only the first gets the metrics port.
    if metrics_port <= 0 or not port_is_free(metrics_port):
        return None
    telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{metrics_port}"))
    return Runtime(telemetry=telemetry)


async def main() -> None:
    settings = get_settings()
    refuse_unsafe(settings)  # production refuses unsafe settings before anything connects
    if not settings.temporal_address:
        raise SystemExit("TEMPORAL_ADDRESS is not set (start the stack with `make dev`)")
    runtime = _runtime(settings.worker_metrics_port)
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        **temporal_connect_options(settings),
        **({"runtime": runtime} if runtime else {}),
    )
    backends = build_backends(settings)
    redis_watch = watch_redis(settings, backends.redis)
    worker = build_worker(
        settings,
        client,
        backends.activities(),
        reconciler_activities=backends.reconciler_activities(client),
    )
    await ensure_reconciler_schedule(client, settings)
    tune_gc(settings.gc_gen0_threshold)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", task_queue=settings.task_queue, metrics=runtime is not None)
    redis_watch.start()
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing in-flight tasks")
    await redis_watch.stop()
    backends.close()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
