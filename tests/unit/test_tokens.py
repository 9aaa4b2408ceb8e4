"""Bearer tokens: the signature is checked once per token, the expiry on every request."""

from __future__ import annotations

import time

from api.auth import TokenService

SECRET = "unit-test-secret-" + "x" * 32


def test_a_verified_token_still_expires() -> None:
    tokens = TokenService(SECRET, ttl_seconds=60)
    now = int(time.time())
    token = tokens.issue("user-1", "a@example.com", now=now)

    assert tokens.verify(token, now=now + 1) is not None
    assert tokens.verify(token, now=now + 59).user_id == "user-1"  # type: ignore[union-attr]
    assert tokens.verify(token, now=now + 61) is None


def test_forged_and_foreign_tokens_are_refused_every_time() -> None:
    tokens = TokenService(SECRET)
    forged = TokenService("another-secret-" + "y" * 32).issue("user-1", "a@example.com")
    assert tokens.verify(forged) is None
    assert tokens.verify(forged) is None
    assert tokens.verify("not.a.jwt") is None
