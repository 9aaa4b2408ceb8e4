"""Registration, login and the current user."""

from __future__ import annotations

import re
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo

from adapters.users import UserRecord
from api.auth import hash_password, password_needs_rehash, verify_password
from api.context import ctx
from api.errors import UNAUTHENTICATED, ApiError, bad_input, from_domain
from api.request_limits import Refusal
from api.services import run_sync
from domain.errors import DomainError

query = QueryType()
mutation = MutationType()

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD, MAX_PASSWORD, MAX_NAME = 8, 128, 100


def _check_registration(data: dict[str, Any]) -> tuple[str, str, str, str]:
    email = str(data["email"]).strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise bad_input("email is not a valid address", field="email")
    password = str(data["password"])
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise bad_input(
            f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    names = []
    for field in ("first_name", "last_name"):
        value = str(data[field]).strip()
        if not value or len(value) > MAX_NAME:
            raise bad_input(f"{field} must be 1 to {MAX_NAME} characters", field=field)
        names.append(value)
    return email, password, names[0], names[1]


def _payload(info: GraphQLResolveInfo, user: UserRecord) -> dict[str, Any]:
    token = ctx(info).services.tokens.issue(user.id, user.email, user.roles)
    return {"token": token, "user": user}


def _refused(refusal: Refusal | None) -> None:
    """Raises a throttle's refusal, before anything is hashed or written."""
    if refusal is not None:
        raise ApiError(refusal.code, refusal.message, retryAfter=refusal.retry_after)


@mutation.field("register")
async def resolve_register(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    email, password, first, last = _check_registration(input)
    context = ctx(info)
    # After the input checks: a mistyped form does not use up the address's registrations.
    _refused(await context.services.account_throttle.registration(context.ip))
    users = context.services.users
    password_hash = await run_sync(hash_password, password)
    try:
        user = await run_sync(users.create, email, password_hash, first, last)
    except DomainError as exc:
        raise from_domain(exc) from None
    return _payload(info, user)


@mutation.field("login")
async def resolve_login(_: Any, info: GraphQLResolveInfo, email: str, password: str) -> Any:
    context = ctx(info)
    throttle = context.services.account_throttle
    _refused(await throttle.login(email, context.ip))
    user = await run_sync(context.services.users.get_by_email, email)
    ok = await run_sync(verify_password, user.password_hash if user else None, password)
    if user is None or not ok:
        raise ApiError(UNAUTHENTICATED, "invalid email or password")
    await throttle.login_succeeded(email)
    if password_needs_rehash(user.password_hash):
        # Only now is the password at hand to hash again with the current parameters.
        new_hash = await run_sync(hash_password, password)
        await run_sync(ctx(info).services.users.set_password_hash, user.id, new_hash)
    return _payload(info, user)


@query.field("me")
async def resolve_me(_: Any, info: GraphQLResolveInfo) -> UserRecord | None:
    identity = ctx(info).require_user()
    return await run_sync(ctx(info).services.users.get_by_id, identity.user_id)


BINDABLES = [query, mutation]
