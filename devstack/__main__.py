"""`python -m devstack` (what `make dev` runs): the whole stack, one command, Ctrl-C stops it.

    python -m devstack [--no-apps] [--print-env]   services, migrations, demo data, API, worker
    python -m devstack migrate                     schema (+ seat-lock table, search attributes)
    python -m devstack seed                        demo data
    python -m devstack env                         export lines of the running dev stack
    python -m devstack worker-health               exit 0 if a worker on this host polls

Services with a configured URL (DATABASE_URL, REDIS_URL, DYNAMODB_ENDPOINT, TEMPORAL_ADDRESS)
are used as they are; the others start embedded, with their data under `.devstack/`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from adapters.db import make_engine
from adapters.dynamo import ensure_seat_lock_table, make_client
from adapters.migrate import upgrade
from config.ports import port_is_free
from config.settings import Settings
from devstack.seed import banner_lines, load_demo_data
from devstack.services import (
    Stack,
    ensure_search_attributes,
    stop_process,
    task_queue_pollers,
)
from devstack.stack_env import (
    devstack_dir,
    env_path,
    export_lines,
    read_env,
    remove_env,
    stack_variables,
    write_env,
)

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("dev", "migrate", "seed", "env", "worker-health")
APP_STARTUP_TIMEOUT = 60.0


DEV_RATE_LIMIT_PER_IP = "120000/minute"
# The same reason for the abuse limits a local load test meets: locust registers every buyer.
DEV_REGISTRATIONS_PER_IP = "1000000/hour"
DEV_WS_CONNECTIONS_PER_IP = "100000"


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


class ChildExited(RuntimeError):
    pass


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_for_child(
    proc: subprocess.Popen[bytes], probe: Callable[[], bool], what: str, log: Path
) -> None:
    """Polls ``probe`` until it is true; fails at once if the child exits first."""
    deadline = time.monotonic() + APP_STARTUP_TIMEOUT
    delay = 0.1
    while True:
        if proc.poll() is not None:
            raise ChildExited(f"{what} exited with code {proc.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(Exception):
            if probe():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {APP_STARTUP_TIMEOUT:.0f}s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def http_answers(url: str) -> bool:
    import httpx

    httpx.get(url, timeout=2.0)  # any HTTP status means the server is up
    return True


@contextlib.contextmanager
def single_instance(data: Path) -> Iterator[None]:
    """Two `make dev` on one `.devstack/` would share PostgreSQL and Redis files: refuse."""
    data.mkdir(parents=True, exist_ok=True)
    with open(data / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(
                f"another `make dev` is already running on {data} (see {data / 'env'})"
            ) from None
        yield


def handle_stop_signals() -> None:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    # explicitly: a parent that ignored SIGINT (a background job) would make us ignore Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)


def ignore_signals() -> None:
    # a second Ctrl-C must not interrupt the shutdown half-way and leave children behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class DevStack:
    """Starts the services and apps in order; :meth:`stop` undoes it, newest first."""

    def __init__(self, settings: Settings, with_apps: bool) -> None:
        self.settings = settings
        self.with_apps = with_apps
        self.data = devstack_dir(settings)
        self.logs = self.data / "logs"
        self.stack = Stack()
        self.apps: dict[str, subprocess.Popen[bytes]] = {}
        self.notes: dict[str, str] = {}  # app -> why it is not running

    def start_services(self) -> None:
        try:
            self._start_services()
        except TimeoutError as exc:
            configured = [
                name
                for name in ("DATABASE_URL", "REDIS_URL", "DYNAMODB_ENDPOINT", "TEMPORAL_ADDRESS")
                if getattr(self.settings, name.lower())
            ]
            hint = (
                f"; configured by you: {', '.join(configured)} (a shell that sourced an old "
                ".devstack/env? unset them to let make dev start its own)"
                if configured
                else ""
            )
            raise SystemExit(f"[devstack] {exc}{hint}") from exc

    def _start_services(self) -> None:
        s = self.settings
        say("PostgreSQL ...")
        self.stack.start_postgres(s.database_url, self.data / "pg")
        say("Redis ...")
        self.stack.start_redis(s.redis_url, self.data / "redis", log_dir=self.logs)
        say("DynamoDB ...")
        self.stack.start_dynamodb(s.dynamodb_endpoint, self.logs, port=s.moto_port)
        say("Temporal ...")
        self.stack.start_temporal(
            s.temporal_address,
            self.data,
            port=s.temporal_port,
            ui_port=s.temporal_ui_port,
            persistent=True,
            namespace=s.temporal_namespace,
            log_dir=self.logs,
        )
        if s.temporal_address is not None:
            say(f"search attributes registered on {s.temporal_address}")

    def prepare_data(self) -> dict[str, int]:
        s = self.settings
        dynamodb = make_client(
            self.stack.dynamodb_endpoint,
            region=s.aws_region,
            access_key=s.aws_access_key_id,
            secret_key=s.aws_secret_access_key,
        )
        ensure_seat_lock_table(dynamodb, s.seat_lock_table)
        say("migrations ...")
        upgrade(self.stack.database_url)
        say("demo data ...")
        engine = make_engine(self.stack.database_url, pool_size=1, max_overflow=0)
        try:
            return load_demo_data(engine)
        finally:
            engine.dispose()

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(stack_variables(self.stack, self.settings))
        env["PYTHONUNBUFFERED"] = "1"
        # Every buyer of a local load test (locust, make bench) comes from 127.0.0.1: the
        # per-IP limit of production would throttle the test, not protect anything.
        env.setdefault("RATE_LIMIT_PER_IP", DEV_RATE_LIMIT_PER_IP)
        env.setdefault("RATE_LIMIT_REGISTRATIONS_PER_IP", DEV_REGISTRATIONS_PER_IP)
        env.setdefault("WS_MAX_CONNECTIONS_PER_IP", DEV_WS_CONNECTIONS_PER_IP)
        return env

    def start_apps(self) -> None:
        s = self.settings
        if not (ROOT / "api" / "app.py").exists():
            self.notes["api"] = "not there yet (api/app.py does not exist)"
        elif not port_is_free(s.api_port):
            self.notes["api"] = f"not started: port {s.api_port} is busy (set API_PORT)"
        else:
            say("API ...")
            log = self.logs / "api.log"
            proc = self._spawn(
                "api",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:app",
                    "--host",
                    s.api_host,
                    "--port",
                    str(s.api_port),
                ],
                log,
            )
            self._wait("api", proc, lambda: http_answers(f"{self.api_url}/health"), log)

        if not (ROOT / "worker" / "__main__.py").exists():
            self.notes["worker"] = "not there yet (worker/__main__.py does not exist)"
        else:
            say("worker ...")
            log = self.logs / "worker.log"
            started = time.time() - 1  # the server's clock is this machine's: allow rounding
            proc = self._spawn("worker", [sys.executable, "-m", "worker"], log)
            address, queue = self.stack.temporal_address, s.task_queue
            self._wait(
                "worker",
                proc,
                lambda: bool(task_queue_pollers(address, queue, s.temporal_namespace, started)),
                log,
            )

    def _spawn(self, name: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        # through the Stack, so the apps are stopped with the services, newest first
        proc = self.stack.spawn(args, log, env=self.child_env(), cwd=ROOT)
        self.apps[name] = proc
        return proc

    def _wait(
        self, name: str, proc: subprocess.Popen[bytes], probe: Callable[[], bool], log: Path
    ) -> None:
        try:
            wait_for_child(proc, probe, name, log)
        except (ChildExited, TimeoutError) as exc:
            # the services stay up: a broken app is for its owner to fix, not a reason to stop
            self.notes[name] = f"FAILED to start, see {log}"
            say(f"{name}: {exc}")
            if proc.poll() is None:
                stop_process(proc)

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def app_status(self, name: str) -> str:
        if not self.with_apps:
            return "not started (--no-apps)"
        if name in self.notes:
            return self.notes[name]
        running = f"running, pid {self.apps[name].pid}"
        return running + (f", task queue {self.settings.task_queue!r}" if name == "worker" else "")

    def banner(self, counts: dict[str, int], seconds: float) -> str:
        s, st = self.settings, self.stack

        def where(service: str, configured: str | None) -> str:
            return "configured" if configured else st.embedded.get(service, "")

        ui = st.temporal_ui_url or (
            f"not started (port {s.temporal_ui_port} busy)"
            if "temporal" in st.embedded
            else "the configured cluster's UI"
        )
        api_up = "api" in self.apps and "api" not in self.notes
        rows = [
            ("Page", f"{self.api_url}/" + ("" if api_up else "  (API not running)")),
            ("GraphQL", f"{self.api_url}/graphql" + ("" if api_up else "  (API not running)")),
            ("Metrics", f"{self.api_url}/metrics" + ("" if api_up else "  (API not running)")),
            ("API", self.app_status("api")),
            ("Worker", self.app_status("worker")),
            ("Temporal UI", ui),
            (
                "Temporal",
                f"{st.temporal_address}  namespace {s.temporal_namespace!r}  "
                f"[{where('temporal', s.temporal_address)}]",
            ),
            ("PostgreSQL", f"{st.database_url}  [{where('postgres', s.database_url)}]"),
            ("Redis", f"{st.redis_url}  [{where('redis', s.redis_url)}]"),
            (
                "DynamoDB",
                f"{st.dynamodb_endpoint}  table {s.seat_lock_table!r}  "
                f"[{where('dynamodb', s.dynamodb_endpoint)}]",
            ),
            ("Logs", f"{self.logs}/"),
            ("Env", f"{env_path(s)}  (`make seed`, `make bench` and `. {env_path(s)}` use it)"),
        ]
        width = max(len(k) for k, _ in rows)
        demo = ", ".join(f"{v} {k}" for k, v in counts.items())
        return "\n".join(
            [
                "",
                f"==== ticket booking dev stack ready in {seconds:.1f} s ====",
                *(f"  {k:<{width}}  {v}" for k, v in rows),
                f"  Demo data: {demo}",
                *banner_lines(),
                "Ctrl-C stops everything started here.",
                "",
            ]
        )

    def stop(self) -> None:
        owned = list(self.stack.pids().items())
        self.stack.stop()
        # the order they were stopped in: apps first, embedded PostgreSQL last
        children = [o for o in owned if o[0] != "postgres"]
        stopped = [*reversed(children), *(o for o in owned if o[0] == "postgres")]
        say("stopped " + (", ".join(f"{k} (pid {v})" for k, v in stopped) or "nothing"))


def run_dev(settings: Settings, with_apps: bool, print_env: bool) -> int:
    began = time.monotonic()
    dev = DevStack(settings, with_apps)
    handle_stop_signals()
    with single_instance(dev.data):
        try:
            dev.start_services()
            counts = dev.prepare_data()
            if with_apps:
                dev.start_apps()
            variables = stack_variables(dev.stack, settings)
            write_env(env_path(settings), variables)
            if print_env:
                print("\n".join(export_lines(variables)), flush=True)
            print(dev.banner(counts, time.monotonic() - began), flush=True)
            reported: set[str] = set()
            while True:
                for name, proc in dev.apps.items():
                    if proc.poll() is not None and name not in reported | set(dev.notes):
                        reported.add(name)
                        say(f"{name} exited with code {proc.returncode}; see {dev.logs}")
                time.sleep(1.0)  # supervision tick, not a readiness wait
        except KeyboardInterrupt:
            say("Ctrl-C: stopping")
        except SystemExit as exc:
            if exc.code != 128 + signal.SIGTERM:
                raise
            say("SIGTERM: stopping")
        finally:
            ignore_signals()
            remove_env(env_path(settings))
            dev.stop()
    return 0


def database_url(settings: Settings) -> str:
    url = settings.database_url or read_env(env_path(settings)).get("DATABASE_URL")
    if not url:
        raise SystemExit(
            "no database: set DATABASE_URL, or start `make dev` (it writes .devstack/env)"
        )
    return url


def live_settings() -> Settings:
    """The settings, completed by the running dev stack's env file for what is not set."""
    found = read_env(env_path(Settings()))
    # init arguments rank above the environment: pass only what the environment lacks
    return Settings(**{k.lower(): v for k, v in found.items() if k not in os.environ})


def run_migrate(settings: Settings) -> int:
    url = database_url(settings)
    upgrade(url)
    say("schema at head")
    if settings.dynamodb_endpoint:
        client = make_client(
            settings.dynamodb_endpoint,
            region=settings.aws_region,
            access_key=settings.aws_access_key_id,
            secret_key=settings.aws_secret_access_key,
        )
        ensure_seat_lock_table(client, settings.seat_lock_table)
        say(f"seat-lock table {settings.seat_lock_table!r} ready")
    if settings.temporal_address:
        added = ensure_search_attributes(settings.temporal_address, settings.temporal_namespace)
        say(f"search attributes: added {added}" if added else "search attributes present")
    return 0


def run_seed(settings: Settings) -> int:
    engine = make_engine(database_url(settings), pool_size=1, max_overflow=0)
    try:
        counts = load_demo_data(engine)
    finally:
        engine.dispose()
    say("demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print("\n".join(banner_lines()))
    return 0


def run_worker_health(settings: Settings) -> int:
    """Compose's worker healthcheck: a worker of this host (container) polls the task queue."""
    if not settings.temporal_address:
        return 1
    host = socket.gethostname()
    pollers = task_queue_pollers(
        settings.temporal_address,
        settings.task_queue,
        settings.temporal_namespace,
        since=time.time() - 120,
    )
    return 0 if any(identity.endswith(f"@{host}") for identity in pollers) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.split("\n")[0])
    parser.add_argument("--no-apps", action="store_true", help="services only: no API, no worker")
    parser.add_argument(
        "--print-env", action="store_true", help="also print the export lines of .devstack/env"
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="dev",
        choices=COMMANDS,
    )
    args = parser.parse_args(argv)
    if args.command == "dev":
        return run_dev(Settings(), with_apps=not args.no_apps, print_env=args.print_env)
    settings = live_settings()
    if args.command == "migrate":
        return run_migrate(settings)
    if args.command == "seed":
        return run_seed(settings)
    if args.command == "env":
        print("\n".join(export_lines(read_env(env_path(settings)))))
        return 0
    return run_worker_health(settings)


if __name__ == "__main__":
    sys.exit(main())
