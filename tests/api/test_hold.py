"""The hold use case (``api/hold.py``): the seats' claims in front, the saga behind them.

The saga's part is a stand-in here where the test is about the claims; the last tests run the
real saga (the API worker) to show that the locks are the saga's, never the API's.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from adapters.seat_claims import GRANT, claims_key
from adapters.seat_locks import DynamoSeatLocks
from api.context import Context
from api.errors import ApiError
from api.hold import hold
from api.services import Services
from domain.errors import DomainError, ErrorCode
from tests.api.conftest import data_of, error_codes
from workflows.contract import HoldSeatsResult

START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) {
    success failureReason takenSeatIds message checkout { id status seatIds } } }"""
PAY = """mutation($c: ID!) { submitPayment(checkoutId: $c) { checkout { status } } }"""


def _context(services: Services) -> Context:
    return Context(services, None, "127.0.0.1")


def _holder(services: Services, event_id: str, seat_ids: list[str]) -> dict[str, str]:
    live = services.seat_locks.live_locks(event_id)
    return {lock.seat_id: lock.lock_id for lock in live if lock.seat_id in seat_ids}


def _claim_refusals() -> float:
    value = REGISTRY.get_sample_value("api_seat_claims_total", {"outcome": "refused"})
    return value or 0.0


def _claims(services: Services, event_id: str) -> dict[str, str]:
    raw = services.redis.hgetall(claims_key(services.settings.redis_prefix, event_id))
    return {
        k.decode(): v.decode().split("|")[0]
        for k, v in raw.items()
        if not k.startswith(GRANT.encode())
    }


async def test_seats_claimed_elsewhere_are_refused_by_the_claim_alone(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    other, mine = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await services.claims.claim(event.id, event.seat_ids[:1], other, 60)).claimed

    async def saga() -> HoldSeatsResult:
        raise AssertionError("the saga must not be asked")

    before = _claim_refusals()
    with pytest.raises(DomainError) as refused:
        await hold(_context(services), mine, event.id, event.seat_ids[:2], saga)

    assert refused.value.code == ErrorCode.SEATS_UNAVAILABLE
    assert refused.value.details["seat_ids"] == event.seat_ids[:1]
    assert _claim_refusals() == before + 1
    assert _claims(services, event.id) == {event.seat_ids[0]: other}


async def test_a_granted_hold_keeps_the_claims_and_the_api_writes_no_lock(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    mine = str(uuid.uuid4())

    async def saga() -> HoldSeatsResult:
        return HoldSeatsResult(held=True, seat_ids=event.seat_ids)

    result = await hold(_context(services), mine, event.id, event.seat_ids, saga)

    assert result.held
    assert _claims(services, event.id) == {seat: mine for seat in event.seat_ids}
    assert _holder(services, event.id, event.seat_ids) == {}  # locks are the saga's to take


async def test_a_refusal_by_the_saga_drops_only_the_claims_this_call_took(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    mine = str(uuid.uuid4())
    assert (await services.claims.claim(event.id, event.seat_ids[:1], mine, 60)).claimed

    async def refuse() -> HoldSeatsResult:
        return HoldSeatsResult(held=False, failure_reason=ErrorCode.CHECKOUT_CLOSED.value)

    result = await hold(_context(services), mine, event.id, event.seat_ids, refuse)

    assert not result.held and result.failure_reason == ErrorCode.CHECKOUT_CLOSED.value
    # the seat the checkout claimed before stays claimed; the two claimed for this call are free
    assert _claims(services, event.id) == {event.seat_ids[0]: mine}


@pytest.mark.parametrize(
    "answer",
    [
        HoldSeatsResult(held=False, taken=["s"], failure_reason="SEATS_UNAVAILABLE"),
        HoldSeatsResult(held=False, failure_reason="EVENT_NOT_ON_SALE", message="x"),
        HoldSeatsResult(held=False, failure_reason="NOT_FOUND", message="unknown event"),
    ],
    ids=["seats-taken", "not-on-sale", "not-found"],
)
async def test_the_hold_steps_refusals_become_the_apis_answers_and_drop_the_claims(
    services: Services, event_factory: Any, answer: HoldSeatsResult
) -> None:
    event = event_factory(seats=2)
    mine = str(uuid.uuid4())

    async def refuse() -> HoldSeatsResult:
        return answer

    with pytest.raises((DomainError, ApiError)) as refused:
        await hold(_context(services), mine, event.id, event.seat_ids, refuse)

    if answer.failure_reason == "NOT_FOUND":
        assert isinstance(refused.value, ApiError)
        assert refused.value.extensions["code"] == "NOT_FOUND"
    else:
        assert isinstance(refused.value, DomainError)
        assert refused.value.code.value == answer.failure_reason
        assert refused.value.details["seat_ids"] == answer.taken
    assert _claims(services, event.id) == {}


async def test_an_error_from_the_saga_drops_the_claims(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    mine = str(uuid.uuid4())

    async def reject() -> HoldSeatsResult:
        raise DomainError(ErrorCode.TRY_AGAIN, "busy")

    with pytest.raises(DomainError):
        await hold(_context(services), mine, event.id, event.seat_ids, reject)

    assert _claims(services, event.id) == {}


@pytest.mark.usefixtures("api_worker")
async def test_the_saga_takes_the_locks_under_the_checkout_id(
    gql: Any, make_buyer: Any, services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    payload = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, make_buyer()))
    started = payload["startCheckout"]

    assert started["success"] is True and started["checkout"]["status"] == "HELD"
    checkout_id = started["checkout"]["id"]
    assert _holder(services, event.id, event.seat_ids) == {s: checkout_id for s in event.seat_ids}
    assert _claims(services, event.id) == {s: checkout_id for s in event.seat_ids}


@pytest.mark.usefixtures("api_worker")
async def test_a_lock_without_a_claim_is_refused_by_dynamodb_in_the_saga(
    gql: Any, make_buyer: Any, services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    other = str(uuid.uuid4())
    # a lock taken while Redis was away: no claim, and DynamoDB still decides
    unclaimed = DynamoSeatLocks(services.dynamodb, services.settings.seat_lock_table)
    assert unclaimed.acquire(event.id, event.seat_ids[:1], other, "u", 60).acquired

    payload = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:2]}, make_buyer()))
    refused = payload["startCheckout"]

    assert refused["success"] is False and refused["failureReason"] == "SEATS_UNAVAILABLE"
    assert refused["takenSeatIds"] == event.seat_ids[:1]
    assert refused["checkout"] is None
    assert _claims(services, event.id) == {}
    assert _holder(services, event.id, event.seat_ids) == {event.seat_ids[0]: other}


@pytest.mark.usefixtures("api_worker")
async def test_a_booked_seat_and_an_event_not_on_sale_are_refused_by_the_quote(
    gql: Any, make_buyer: Any, services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    first = make_buyer()  # buys the first seat: its lock and claim are released at the end
    sold = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, first))
    paid = data_of(await gql(PAY, {"c": sold["startCheckout"]["checkout"]["id"]}, first))
    assert paid["submitPayment"]["checkout"]["status"] == "CONFIRMED"
    assert _claims(services, event.id) == {}

    booked = data_of(await gql(START, {"e": event.id, "s": event.seat_ids}, make_buyer()))
    refused = booked["startCheckout"]
    assert refused["failureReason"] == "SEATS_UNAVAILABLE" and refused["checkout"] is None
    assert refused["takenSeatIds"] == event.seat_ids[:1] and "booked" in refused["message"]
    assert _claims(services, event.id) == {}  # both claims dropped, the free seat's too
    assert _holder(services, event.id, event.seat_ids) == {}

    draft = event_factory(seats=1, status="DRAFT")
    not_on_sale = data_of(await gql(START, {"e": draft.id, "s": draft.seat_ids}, make_buyer()))
    assert not_on_sale["startCheckout"]["failureReason"] == "EVENT_NOT_ON_SALE"
    assert not_on_sale["startCheckout"]["checkout"] is None

    unknown = str(uuid.uuid4())
    result = await gql(START, {"e": unknown, "s": draft.seat_ids}, make_buyer())
    assert error_codes(result) == ["NOT_FOUND"]
    assert _claims(services, unknown) == {}
