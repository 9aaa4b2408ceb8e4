from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bootstrap import workflow_runner
from config.settings import DEV_JWT_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "a-real-secret-" + "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell exports (CI, a sourced .devstack/env) must not leak into these checks."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize("environment", ["test", "production"])
def test_the_development_secret_is_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        settings(environment=environment)


def test_the_development_secret_is_refused_when_it_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    with pytest.raises(ValidationError, match="development default"):
        settings()


def test_a_real_secret_is_accepted_in_production() -> None:
    assert settings(environment="production", jwt_secret=REAL_SECRET).jwt_secret == REAL_SECRET


def test_the_development_default_is_fine_in_development() -> None:
    assert settings().jwt_secret == DEV_JWT_SECRET


def test_a_short_secret_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        settings(jwt_secret="short")


def test_environment_variables_map_to_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/tickets")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("API_PORT", "8123")
    monkeypatch.setenv("HOLD_SECONDS", "90")
    monkeypatch.setenv("RATE_LIMIT_ENABLED", "false")
    monkeypatch.setenv("CORS_ORIGINS", '["https://tickets.example"]')
    s = settings()
    assert s.database_url == "postgresql://u:p@db:5432/tickets"
    assert s.redis_url == "redis://cache:6379/1"
    assert s.api_port == 8123
    assert s.hold_seconds == 90
    assert s.rate_limit_enabled is False
    assert s.cors_origins == ["https://tickets.example"]


def test_a_malformed_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "eighty")
    with pytest.raises(ValidationError, match="api_port"):
        settings()


def test_defaults() -> None:
    s = settings()
    assert s.environment == "development"
    # unset service URLs mean "the dev stack starts an embedded one"
    assert (s.database_url, s.redis_url, s.dynamodb_endpoint, s.temporal_address) == (
        None,
        None,
        None,
        None,
    )
    assert (s.api_port, s.temporal_port, s.temporal_ui_port) == (8000, 7233, 8233)
    assert s.task_queue == "checkout"
    assert s.seat_lock_table == "seat-locks"
    assert s.devstack_dir == ".devstack"


def test_the_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert listed == {name.upper() for name in Settings.model_fields}


def test_every_admitted_activity_local_or_not_has_a_thread() -> None:
    from bootstrap import activity_threads

    assert activity_threads(settings(worker_activity_threads=64)) == 128  # 64 + 64 slots
    few = settings(
        worker_activity_threads=64,
        worker_max_concurrent_activities=10,
        worker_max_concurrent_local_activities=20,
    )
    assert activity_threads(few) == 30


def test_workflows_run_in_the_sandbox_where_asked_for_and_outside_it_by_default() -> None:
    assert isinstance(workflow_runner(settings()), UnsandboxedWorkflowRunner)
    sandboxed = workflow_runner(settings(worker_workflow_sandbox=True))
    assert isinstance(sandboxed, SandboxedWorkflowRunner)
