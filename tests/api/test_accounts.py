from __future__ import annotations

import uuid
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import Engine

from api.auth import password_needs_rehash
from tests.api.conftest import data_of, error_codes
from tests.api.factory import row_counts

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { token user { id email firstName lastName } }
}"""
LOGIN = """
mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id } } }"""
ME = "{ me { id email firstName } }"


def _input(email: str, password: str = "s3cret-password") -> dict[str, str]:
    return {"email": email, "password": password, "firstName": "Ada", "lastName": "Lovelace"}


async def test_register_login_me(gql: Any, services: Any) -> None:
    email = f"Ada-{uuid.uuid4().hex[:8]}@Example.com"
    registered = data_of(await gql(REGISTER, {"input": _input(email)}))["register"]
    assert registered["user"]["email"] == email.lower()
    identity = services.tokens.verify(registered["token"])
    assert identity.user_id == registered["user"]["id"]

    logged = data_of(await gql(LOGIN, {"e": email, "p": "s3cret-password"}))["login"]
    assert logged["user"]["id"] == registered["user"]["id"]
    assert error_codes(await gql(LOGIN, {"e": email, "p": "wrong-password"})) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(LOGIN, {"e": "nobody@example.com", "p": "x" * 10})) == [
        "UNAUTHENTICATED"
    ]


async def test_bad_registrations_change_nothing(gql: Any, engine: Engine) -> None:
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    data_of(await gql(REGISTER, {"input": _input(email)}))
    before = row_counts(engine)
    for bad in (
        _input(email.upper()),  # already registered, whatever the case
        _input("not-an-email"),
        _input(f"short-{uuid.uuid4().hex[:6]}@example.com", password="short"),
        {**_input(f"n-{uuid.uuid4().hex[:6]}@example.com"), "firstName": "  "},
    ):
        assert error_codes(await gql(REGISTER, {"input": bad})) == ["BAD_USER_INPUT"], bad
    assert row_counts(engine) == before


async def test_me_over_http_needs_a_valid_token(http: httpx.AsyncClient, make_buyer: Any) -> None:
    buyer = make_buyer()
    response = await http.post("/graphql", json={"query": ME}, headers=buyer.headers)
    assert response.status_code == 200
    assert response.json()["data"]["me"]["id"] == buyer.id
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}, {"Authorization": "x"}):
        body = (await http.post("/graphql", json={"query": ME}, headers=headers)).json()
        assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_expired_token_is_refused(services: Any, make_buyer: Any, gql: Any) -> None:
    buyer = make_buyer()
    stale = services.tokens.issue(buyer.id, buyer.email, now=1_000_000)
    assert services.tokens.verify(stale) is None


async def test_login_upgrades_a_hash_of_older_parameters(
    gql: Any, services: Any, engine: Engine
) -> None:
    email = f"old-{uuid.uuid4().hex[:8]}@example.com"
    old_hash = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("s3cret-password")
    user = services.users.create(email, old_hash, "Ada", "Lovelace")
    assert password_needs_rehash(old_hash)

    assert error_codes(await gql(LOGIN, {"e": email, "p": "wrong-password"})) == ["UNAUTHENTICATED"]
    assert services.users.get_by_id(user.id).password_hash == old_hash  # a failed login keeps it

    data_of(await gql(LOGIN, {"e": email, "p": "s3cret-password"}))
    upgraded = services.users.get_by_id(user.id).password_hash
    assert upgraded != old_hash and not password_needs_rehash(upgraded)
    assert (
        data_of(await gql(LOGIN, {"e": email, "p": "s3cret-password"}))["login"]["user"]["id"]
        == user.id
    )
