"""Passwords (argon2id) and bearer tokens (HS256 JWTs with an expiry)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.model import Role

_ROLE_NAMES = frozenset(r.value for r in Role)

# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's default (RFC 9106
# low-memory: 64 MiB, 3 passes, 4 lanes): a hash's CPU is taken from every other request of the
# API process. What it saves: 20 ms of CPU per hash instead of 165 ms, which the default spread
# over 4 threads. Hashes of the old parameters still verify and are upgraded at the next login
# (``password_needs_rehash``).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this when the email is unknown keeps login timing the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True for a hash made with other parameters than ``hash_password`` uses now."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str
    # From the token: a role granted later takes effect at the user's next sign-in.
    roles: frozenset[str] = frozenset({Role.BUYER.value})

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class TokenService:
    def __init__(
        self,
        secret: str,
        algorithm: str = "HS256",
        ttl_seconds: int = 3600,
        cache_size: int = 10_000,
    ) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self._ttl = ttl_seconds
        # A buyer sends the same token with every request of a sale; its signature only has
        # to be checked once. The expiry is checked on every request all the same.
        self._verified = lru_cache(maxsize=cache_size)(self._decode)

    def issue(
        self,
        user_id: str,
        email: str,
        roles: Iterable[str] = (Role.BUYER.value,),
        now: int | None = None,
    ) -> str:
        issued = int(time.time()) if now is None else now
        claims = {
            "sub": user_id,
            "email": email,
            "roles": sorted(set(roles)),
            "iat": issued,
            "exp": issued + self._ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)

    def verify(self, token: str, now: float | None = None) -> Identity | None:
        """None for a missing, forged, malformed or expired token."""
        decoded = self._verified(token)
        if decoded is None:
            return None
        identity, expires_at = decoded
        return identity if (time.time() if now is None else now) < expires_at else None

    def _decode(self, token: str) -> tuple[Identity, float] | None:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError:
            return None
        sub, email, exp = claims.get("sub"), claims.get("email", ""), claims.get("exp")
        if not isinstance(sub, str) or not isinstance(exp, int | float):
            return None
        roles = claims.get("roles", [Role.BUYER.value])
        if not isinstance(roles, list) or not all(r in _ROLE_NAMES for r in roles):
            return None
        return Identity(sub, email, frozenset(roles)), float(exp)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
