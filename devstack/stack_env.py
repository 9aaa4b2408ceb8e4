"""`.devstack/env`: how other shells (`make seed`, `make bench`, you) find a running dev stack.

The file holds ``export NAME='value'`` lines (sourceable by sh) and the PID of the `make dev`
that wrote it; a file whose PID is gone (the stack was killed) is stale and read as empty.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from config.settings import Settings
from devstack.services import Stack, pid_alive

PID_MARK = "# devstack pid "


def devstack_dir(settings: Settings) -> Path:
    """Where `make dev` keeps its data; a relative setting is relative to the working directory."""
    return Path(settings.devstack_dir).expanduser().resolve()


def env_path(settings: Settings) -> Path:
    return devstack_dir(settings) / "env"


def stack_variables(stack: Stack, settings: Settings) -> dict[str, str]:
    """The settings another process needs to use this stack (each one a Settings field)."""
    return {
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "DYNAMODB_ENDPOINT": stack.dynamodb_endpoint,
        "TEMPORAL_ADDRESS": stack.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TASK_QUEUE": settings.task_queue,
        "SEAT_LOCK_TABLE": settings.seat_lock_table,
        "REDIS_PREFIX": settings.redis_prefix,
        "API_HOST": settings.api_host,
        "API_PORT": str(settings.api_port),
    }


def export_lines(variables: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


def write_env(path: Path, variables: dict[str, str], pid: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{PID_MARK}{pid if pid is not None else os.getpid()}", *export_lines(variables)]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)  # readers never see half a file


def read_env(path: Path) -> dict[str, str]:
    """The variables of a live stack's env file; ``{}`` when missing or stale."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    variables: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(PID_MARK):
            if not pid_alive(int(line[len(PID_MARK) :].strip())):
                return {}
            continue
        parts = shlex.split(line, comments=True)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            name, value = parts[1].split("=", 1)
            variables[name] = value
    return variables


def remove_env(path: Path) -> None:
    path.unlink(missing_ok=True)
