"""docker-compose.yml cannot run here (no Docker): keep it consistent with the code instead."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.production import production_problems
from config.settings import Settings
from devstack.__main__ import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker")  # the ones built from this repository
BACKING = ("postgres", "redis", "dynamodb", "temporal")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def module_exists(module: str) -> bool:
    """Whether ``module`` is a file of this repository (not something installed elsewhere)."""
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None and Path(spec.origin).is_relative_to(ROOT)


def command_modules(command: list[str]) -> list[str]:
    """The modules a service command runs: ``python -m X`` and ``uvicorn pkg.mod:app``."""
    if command[:2] == ["python", "-m"]:
        return [command[2]]
    if command[0] == "uvicorn":
        return [command[1].split(":")[0]]
    if command[0] == "alembic":
        return ["alembic"]
    raise AssertionError(f"unknown command shape: {command}")


def test_the_expected_stack_is_described(services: dict[str, Any]) -> None:
    expected = {*BACKING, "temporal-ui", "migrate", "api", "worker"}
    assert expected <= set(services)
    assert services["dynamodb"]["image"].startswith("amazon/dynamodb-local")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup")
    assert services["worker"]["deploy"]["replicas"] == 2


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_names_are_settings_fields(services: dict[str, Any], name: str) -> None:
    fields = {field.upper() for field in Settings.model_fields}
    environment = services[name]["environment"]
    assert isinstance(environment, dict) and environment
    assert set(environment) - fields == set()
    # pointing at the compose services, not at an embedded stack
    assert {"DATABASE_URL", "REDIS_URL", "DYNAMODB_ENDPOINT", "TEMPORAL_ADDRESS"} <= set(
        environment
    )
    assert environment["ENVIRONMENT"] == "production"


def test_the_environment_builds_valid_settings(services: dict[str, Any]) -> None:
    environment = dict(services["api"]["environment"])
    environment["JWT_SECRET"] = "x" * 40  # compose interpolates ${JWT_SECRET:?...}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in environment.items()})  # type: ignore[call-arg]
    assert settings.database_url and settings.database_url.startswith("postgresql://")
    assert settings.log_json is True


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_commands_run_modules_that_exist(services: dict[str, Any], name: str) -> None:
    command = services[name]["command"]
    for module in command_modules(command):
        assert module_exists(module), f"{name}: {module} is not a module of this repository"
    if command[:3] == ["python", "-m", "devstack"]:
        assert all(arg in COMMANDS for arg in command[3:])


def test_app_services_use_the_image_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    assert (ROOT / "Dockerfile").exists()
    assert any("build" in services[name] for name in APP_SERVICES)
    images = {services[name].get("image") for name in APP_SERVICES}
    assert len(images) == 1


@pytest.mark.parametrize("name", [*BACKING, "temporal-ui", "api", "worker"])
def test_long_running_services_have_healthchecks(services: dict[str, Any], name: str) -> None:
    check = services[name].get("healthcheck")
    assert check and check["test"], f"{name} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL")


def test_the_worker_healthcheck_is_a_devstack_command(services: dict[str, Any]) -> None:
    test = services["worker"]["healthcheck"]["test"]
    assert test[1:4] == ["python", "-m", "devstack"] and test[4] in COMMANDS


@pytest.mark.parametrize("name", ["api", "worker"])
def test_apps_wait_for_healthy_services_and_the_migration(
    services: dict[str, Any], name: str
) -> None:
    depends = services[name]["depends_on"]
    for backing in BACKING:
        assert depends[backing]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_the_migration_waits_for_what_it_prepares(services: dict[str, Any]) -> None:
    depends = services["migrate"]["depends_on"]
    for backing in ("postgres", "dynamodb", "temporal"):
        assert depends[backing]["condition"] == "service_healthy"


def test_every_dependency_condition_is_a_real_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert rule["condition"] in ("service_healthy", "service_completed_successfully")
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_only_the_api_and_the_temporal_ui_are_published(services: dict[str, Any]) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"api", "temporal-ui"}
    # the UI has no auth of its own: reachable from this machine only
    assert all(port.startswith("127.0.0.1:") for port in services["temporal-ui"]["ports"])


def test_the_file_says_how_the_published_ports_are_authenticated() -> None:
    header = (ROOT / "docker-compose.yml").read_text().split("\nname:")[0]
    assert "Auth:" in header and "Temporal UI" in header


def test_the_stack_passes_the_production_checks(services: dict[str, Any]) -> None:
    environment = dict(services["api"]["environment"])
    environment["JWT_SECRET"] = "x" * 40  # compose interpolates ${JWT_SECRET:?...}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in environment.items()})  # type: ignore[call-arg]
    assert production_problems(settings) == []
    assert "*" not in environment["FORWARDED_ALLOW_IPS"]


def test_uvicorn_leaves_the_proxy_headers_to_the_app(services: dict[str, Any]) -> None:
    # the app trusts FORWARDED_ALLOW_IPS itself (api/app.py); uvicorn must not apply its own
    assert "--no-proxy-headers" in services["api"]["command"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"--no-proxy-headers"' in dockerfile


def test_uvicorn_caps_websocket_frames(services: dict[str, Any]) -> None:
    # uvicorn's default reads frames of up to 16 MiB before the app can refuse them
    command = services["api"]["command"]
    assert command[command.index("--ws-max-size") + 1] == "1048576"
    assert '"--ws-max-size", "1048576"' in (ROOT / "Dockerfile").read_text()
