"""The API started for real (``uvicorn api.app:app``, as the compose file runs it) in
production mode: it refuses unsafe settings, naming them, and starts with safe ones."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from devstack.services import free_port

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "a-real-secret-" + "s" * 40
START_ATTEMPTS = 300  # polls of /health, 0.1 s apart: a generous bound on a loaded box


def production_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """Only what this test sets: none of the shell's settings leak in."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "ENVIRONMENT": "production",
        "JWT_SECRET": REAL_SECRET,
        "ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION": "true",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "DYNAMODB_ENDPOINT": settings.dynamodb_endpoint or "",
        "TEMPORAL_ADDRESS": settings.temporal_address or "",
        "REDIS_PREFIX": settings.redis_prefix,
        "SEAT_LOCK_TABLE": settings.seat_lock_table,
        "LOG_JSON": "false",
    }
    return {**environment, **overrides}


def uvicorn_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-proxy-headers",
    ]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION": "false"}, "ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION"),
        ({"GRAPHQL_EXPLORER": "true"}, "GRAPHQL_EXPLORER"),
        ({"FORWARDED_ALLOW_IPS": "*"}, "FORWARDED_ALLOW_IPS"),
        ({"JWT_SECRET": "too-short"}, "JWT_SECRET"),
    ],
)
def test_production_refuses_to_start_with_an_unsafe_setting(
    settings: Settings, override: dict[str, str], named: str
) -> None:
    finished = subprocess.run(
        uvicorn_command(free_port()),
        cwd=ROOT,
        env=production_environment(settings, **override),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode != 0
    assert named in finished.stderr


@pytest.fixture
def production_api(settings: Settings) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        uvicorn_command(port),
        cwd=ROOT,
        env=production_environment(settings, FORWARDED_ALLOW_IPS="10.0.0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(START_ATTEMPTS):
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"the API exited with safe settings:\n{output}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the API did not answer /health")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_production_starts_with_safe_settings_and_serves_no_explorer(production_api: str) -> None:
    assert httpx.get(f"{production_api}/health", timeout=5).json() == {"status": "ok"}
    # GraphiQL is not served, and the schema does not describe itself
    page = httpx.get(f"{production_api}/graphql", headers={"Accept": "text/html"}, timeout=5)
    assert page.status_code == 405
    introspection = httpx.post(
        f"{production_api}/graphql", json={"query": "{ __schema { types { name } } }"}, timeout=5
    )
    body = introspection.json()
    assert "data" not in body or not body["data"]
    assert body["errors"]
