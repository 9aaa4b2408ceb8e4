"""What production refuses to start with: the rules, pure, in one place.

The API (``api/app.py``'s ``create_app``) and the worker (``python -m worker``) call
``refuse_unsafe`` before they build anything, so a misconfigured deployment fails at start
with every offending setting named, instead of serving with a development default.

With ``ENVIRONMENT=production``:
- the sandbox payment processor approves a missing card token: it needs the explicit opt-in
  ``ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION=true`` (a demo deployment, the compose stack);
- ``JWT_SECRET`` must not be the development default, and never shorter than 32 characters
  (this rule holds outside development too: ``Settings`` applies it when it is built);
- GraphiQL and schema introspection are off (``GRAPHQL_EXPLORER`` may not turn them on);
- proxy headers (``X-Forwarded-For``/``-Proto``) are trusted only from the addresses in
  ``FORWARDED_ALLOW_IPS``, never from anyone (``*``): the client address they carry is what the
  per-IP rate limit counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
MIN_JWT_SECRET_LENGTH = 32


class UnsafeSettingsError(RuntimeError):
    """Settings production refuses; the message names each setting and why."""


def jwt_secret_problem(environment: str, secret: str) -> str | None:
    """Why ``secret`` is refused in ``environment``, or None."""
    if environment != "development" and secret == DEV_JWT_SECRET:
        return (
            "JWT_SECRET still has its development default; set a real secret when "
            f"ENVIRONMENT={environment}"
        )
    if len(secret) < MIN_JWT_SECRET_LENGTH:
        return f"JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters"
    return None


def graphql_explorer_enabled(settings: Settings) -> bool:
    """GraphiQL and introspection: as configured, else on everywhere but production."""
    if settings.graphql_explorer is not None:
        return settings.graphql_explorer
    return settings.environment != "production"


def trusted_proxies(settings: Settings) -> list[str]:
    """The addresses whose proxy headers the API believes (``FORWARDED_ALLOW_IPS``)."""
    return [host.strip() for host in settings.forwarded_allow_ips.split(",") if host.strip()]


def production_problems(settings: Settings) -> list[str]:
    """Every reason production refuses ``settings``; empty outside production."""
    if settings.environment != "production":
        return []
    problems: list[str] = []
    sandbox = settings.payment_processor == "sandbox"
    if sandbox and not settings.allow_sandbox_payments_in_production:
        problems.append(
            "PAYMENT_PROCESSOR=sandbox approves payments without a card; set "
            "ALLOW_SANDBOX_PAYMENTS_IN_PRODUCTION=true to run it in production on purpose"
        )
    secret = jwt_secret_problem(settings.environment, settings.jwt_secret)
    if secret is not None:
        problems.append(secret)
    if graphql_explorer_enabled(settings):
        problems.append(
            "GRAPHQL_EXPLORER=true serves GraphiQL and schema introspection; unset it in production"
        )
    if "*" in trusted_proxies(settings):
        problems.append(
            "FORWARDED_ALLOW_IPS=* trusts proxy headers from anyone (any client could pick the "
            "address the rate limits count); list the load balancer's addresses"
        )
    return problems


def refuse_unsafe(settings: Settings) -> None:
    """Raises ``UnsafeSettingsError`` naming every unsafe setting; returns when there is none."""
    problems = production_problems(settings)
    if problems:
        raise UnsafeSettingsError(
            "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
        )
