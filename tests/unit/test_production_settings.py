"""config/production.py: what ENVIRONMENT=production refuses, and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.production import (
    DEV_JWT_SECRET,
    UnsafeSettingsError,
    graphql_explorer_enabled,
    production_problems,
    refuse_unsafe,
    trusted_proxies,
)
from config.settings import Settings

REAL_SECRET = "a-real-secret-" + "s" * 40
SAFE = {
    "environment": "production",
    "jwt_secret": REAL_SECRET,
    "allow_sandbox_payments_in_production": True,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **{**SAFE, **values})  # type: ignore[call-arg,arg-type]


def test_safe_production_settings_pass() -> None:
    assert production_problems(settings()) == []
    refuse_unsafe(settings())


def test_the_sandbox_processor_needs_the_opt_in() -> None:
    problems = production_problems(settings(allow_sandbox_payments_in_production=False))
    assert len(problems) == 1 and "ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION" in problems[0]


@pytest.mark.parametrize("secret", [DEV_JWT_SECRET, "short-but-not-default"])
def test_a_weak_jwt_secret_is_refused(secret: str) -> None:
    # Settings refuses it when built (outside development); the production check refuses it
    # too, for settings that were built some other way.
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        settings(jwt_secret=secret)
    unchecked = Settings.model_construct(**{**SAFE, "jwt_secret": secret})
    problems = production_problems(unchecked)
    assert len(problems) == 1 and "JWT_SECRET" in problems[0]


def test_graphiql_and_introspection_are_off_in_production_and_may_not_be_turned_on() -> None:
    assert graphql_explorer_enabled(settings()) is False
    problems = production_problems(settings(graphql_explorer=True))
    assert len(problems) == 1 and "GRAPHQL_EXPLORER" in problems[0]
    assert production_problems(settings(graphql_explorer=False)) == []


def test_the_explorer_is_on_elsewhere_unless_turned_off() -> None:
    development = Settings(_env_file=None)  # type: ignore[call-arg]
    assert graphql_explorer_enabled(development) is True
    off = Settings(_env_file=None, graphql_explorer=False)  # type: ignore[call-arg]
    assert graphql_explorer_enabled(off) is False


@pytest.mark.parametrize("value", ["*", "10.0.0.1, *"])
def test_proxy_headers_from_anyone_are_refused(value: str) -> None:
    problems = production_problems(settings(forwarded_allow_ips=value))
    assert len(problems) == 1 and "FORWARDED_ALLOW_IPS" in problems[0]


def test_configured_proxies_are_trusted() -> None:
    configured = settings(forwarded_allow_ips="10.0.0.1, 10.0.1.0/24")
    assert trusted_proxies(configured) == ["10.0.0.1", "10.0.1.0/24"]
    assert production_problems(configured) == []


def test_every_problem_is_named_at_once() -> None:
    unsafe = settings(
        allow_sandbox_payments_in_production=False, graphql_explorer=True, forwarded_allow_ips="*"
    )
    with pytest.raises(UnsafeSettingsError) as refused:
        refuse_unsafe(unsafe)
    message = str(refused.value)
    for name in ("ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION", "GRAPHQL_EXPLORER", "FORWARDED_ALLOW_IPS"):
        assert name in message


def test_nothing_is_refused_outside_production() -> None:
    development = Settings(  # type: ignore[call-arg]
        _env_file=None, graphql_explorer=True, forwarded_allow_ips="*"
    )
    assert production_problems(development) == []
