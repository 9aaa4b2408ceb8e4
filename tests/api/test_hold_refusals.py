"""Holds refused by their seats' claims, answered without graphql-core: the same bytes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from api.hold_refusals import refusal_plan
from api.services import Services

pytestmark = pytest.mark.usefixtures("api_worker")

# Aliases, __typename and a nested selection under the (null) checkout, in an odd order.
START = """mutation Hold($e: ID!, $s: [ID!]!) {
  hold: startCheckout(eventId: $e, seatIds: $s) {
    __typename failureReason ok: success takenSeatIds message checkout { id status }
  }
}"""


async def _post(http: httpx.AsyncClient, token: str | None, variables: dict[str, Any]) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": START, "variables": variables}, headers=headers
    )
    assert response.status_code == 200
    return response.content


async def _claim_elsewhere(services: Services, event_id: str, seat_ids: list[str]) -> None:
    claim = await services.claims.claim(event_id, seat_ids, str(uuid.uuid4()), 60)
    assert claim.claimed


async def _refused_by_graphql_core(
    http: httpx.AsyncClient, services: Services, make_buyer: Any, event: Any, claimed: int
) -> bytes:
    """The event's first ``claimed`` seats claimed by another checkout, then graphql-core's
    refusal of a hold of all three (its first run of the text: nothing skips it yet)."""
    await _claim_elsewhere(services, event.id, event.seat_ids[:claimed])
    return await _post(http, make_buyer().token, {"e": event.id, "s": event.seat_ids})


async def _copied(services: Services, event: Any, seat_ids: list[str]) -> None:
    """This process's copy of the event's claims shows ``seat_ids`` claimed."""
    deadline = time.monotonic() + 10
    while services.claims_mirror.taken(event.id, seat_ids) != tuple(sorted(seat_ids)):
        assert time.monotonic() < deadline, "the copy did not catch up"
        await asyncio.sleep(0.01)


def _forbid(monkeypatch: pytest.MonkeyPatch, services: Services, *methods: str) -> None:
    """Makes these ``SeatClaims`` methods fail the test if the refusal calls them."""

    async def forbidden(*_: Any, **__: Any) -> Any:
        raise AssertionError(f"the refusal called one of {methods}")

    for method in methods:
        monkeypatch.setattr(services.claims, method, forbidden)


async def test_a_refusal_is_the_same_bytes_without_the_executor(
    http: httpx.AsyncClient,
    services: Services,
    make_buyer: Any,
    event_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = event_factory(seats=3)
    variables = {"e": event.id, "s": [event.seat_ids[1], event.seat_ids[0], event.seat_ids[2]]}
    through_graphql_core = await _refused_by_graphql_core(http, services, make_buyer, event, 2)
    await _copied(services, event, event.seat_ids[:2])

    _forbid(monkeypatch, services, "claim")  # the resolver's claim
    without = await _post(http, make_buyer().token, variables)

    assert without == through_graphql_core
    hold = httpx.Response(200, content=without).json()["data"]["hold"]
    assert hold["ok"] is False and hold["failureReason"] == "SEATS_UNAVAILABLE"
    assert hold["takenSeatIds"] == sorted(event.seat_ids[:2]) and hold["checkout"] is None


async def test_a_claim_made_after_the_copy_reaches_it_through_the_feed(
    http: httpx.AsyncClient,
    services: Services,
    make_buyer: Any,
    event_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = event_factory(seats=3)
    variables = {"e": event.id, "s": event.seat_ids[:2]}
    through_graphql_core = await _refused_by_graphql_core(http, services, make_buyer, event, 1)
    deadline = time.monotonic() + 10
    while services.claims_mirror.taken(event.id, event.seat_ids) is None:
        assert time.monotonic() < deadline, "no copy of the event's claims"
        await asyncio.sleep(0.01)
    # claimed after the copy was made: it hears of it from the claims' feed
    await _claim_elsewhere(services, event.id, event.seat_ids[2:])
    while services.claims_mirror.taken(event.id, event.seat_ids[2:]) == ():
        assert time.monotonic() < deadline, "the copy missed a claim"
        await asyncio.sleep(0.01)

    _forbid(monkeypatch, services, "claim")  # Redis is not asked

    assert await _post(http, make_buyer().token, variables) == through_graphql_core
    later = {"e": event.id, "s": event.seat_ids[1:]}
    refused = httpx.Response(200, content=await _post(http, make_buyer().token, later)).json()
    assert refused["data"]["hold"]["takenSeatIds"] == event.seat_ids[2:]


async def test_free_seats_bad_input_and_strangers_still_go_through_graphql_core(
    http: httpx.AsyncClient, services: Services, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    await _claim_elsewhere(services, event.id, event.seat_ids[:1])
    refused = {"e": event.id, "s": event.seat_ids[:1]}
    await _post(http, make_buyer().token, refused)  # graphql-core answers this text once

    unauthenticated = httpx.Response(200, content=await _post(http, None, refused)).json()
    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    malformed = {"e": "not-an-id", "s": event.seat_ids[:1]}
    bad = httpx.Response(200, content=await _post(http, make_buyer().token, malformed)).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    free = {"e": event.id, "s": event.seat_ids[1:3]}
    held = httpx.Response(200, content=await _post(http, make_buyer().token, free)).json()
    assert (
        held["data"]["hold"]["ok"] is True and held["data"]["hold"]["checkout"]["status"] == "HELD"
    )


def test_only_a_lone_start_checkout_with_variables_and_payload_fields_has_a_plan() -> None:
    plan = refusal_plan(START)
    assert plan is not None and plan.root_key == "hold" and plan.operation_name == "Hold"
    assert [key for key, _ in plan.fields] == [
        "__typename",
        "failureReason",
        "ok",
        "takenSeatIds",
        "message",
        "checkout",
    ]
    literal = 'mutation { startCheckout(eventId: "e", seatIds: ["s"]) { success } }'
    two_roots = "mutation($e: ID!, $s: [ID!]!) { startCheckout(eventId: $e, seatIds: $s) { success } a: startCheckout(eventId: $e, seatIds: $s) { success } }"  # noqa: E501
    fragment = "mutation($e: ID!, $s: [ID!]!) { startCheckout(eventId: $e, seatIds: $s) { ...F } } fragment F on CheckoutPayload { success }"  # noqa: E501
    directive = "mutation($e: ID!, $s: [ID!]!, $x: Boolean!) { startCheckout(eventId: $e, seatIds: $s) { success @include(if: $x) } }"  # noqa: E501
    other = "mutation($c: ID!) { cancelCheckout(checkoutId: $c) { success } }"
    for query in (literal, two_roots, fragment, directive, other, "{ me { id } }", "mutation {"):
        assert refusal_plan(query) is None, query
