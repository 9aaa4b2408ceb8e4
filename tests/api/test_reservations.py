"""The API reserves seats under the checkout's own token before the saga holds them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from adapters.inventory import PostgresCatalog
from adapters.seat_claims import GRANT, claims_key
from adapters.seat_locks import DynamoSeatLocks
from adapters.seatmap_cache import seatmap_key
from api.context import Context
from api.resolvers.common import claim_and_hold, hold_reserved
from api.services import Services
from domain.errors import DomainError, ErrorCode
from workflows.contract import HoldSeatsResult, Reservation


def _context(services: Services) -> Context:
    return Context(services, None, "127.0.0.1")


def _holder(services: Services, event_id: str, seat_ids: list[str]) -> dict[str, str]:
    live = services.seat_locks.live_locks(event_id)
    return {lock.seat_id: lock.lock_id for lock in live if lock.seat_id in seat_ids}


async def test_seats_held_elsewhere_are_refused_before_the_saga_is_asked(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    other, mine = str(uuid.uuid4()), str(uuid.uuid4())
    assert services.seat_locks.acquire(event.id, event.seat_ids[:1], other, "u", 60).acquired
    asked = False

    async def hold(reservation: Reservation | None) -> HoldSeatsResult:
        nonlocal asked
        asked = True
        return HoldSeatsResult(held=True)

    version = _seat_map_version(services, event.id)
    with pytest.raises(DomainError) as refused:
        await hold_reserved(_context(services), mine, "u", event.id, event.seat_ids[:2], hold)

    assert refused.value.code == ErrorCode.SEATS_UNAVAILABLE
    assert _seat_map_version(services, event.id) == version  # nothing changed, nothing said
    assert refused.value.details["seat_ids"] == event.seat_ids[:1]
    assert not asked
    assert _holder(services, event.id, event.seat_ids) == {event.seat_ids[0]: other}


async def test_a_refusal_by_the_saga_gives_back_only_the_newly_reserved_seats(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    mine = str(uuid.uuid4())
    assert services.seat_locks.acquire(event.id, event.seat_ids[:1], mine, "u", 60).acquired

    async def refuse(reservation: Reservation | None) -> HoldSeatsResult:
        return HoldSeatsResult(held=False, failure_reason="NOT_FOUND")

    result = await hold_reserved(_context(services), mine, "u", event.id, event.seat_ids, refuse)

    assert not result.held
    # the seat the checkout held before stays held; the two reserved for this call are free
    assert _holder(services, event.id, event.seat_ids) == {event.seat_ids[0]: mine}


async def test_a_business_error_from_the_saga_gives_the_reservation_back(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    mine = str(uuid.uuid4())

    async def reject(reservation: Reservation | None) -> HoldSeatsResult:
        raise DomainError(ErrorCode.TOO_MANY_SEATS, "at most 10 seats per checkout")

    with pytest.raises(DomainError):
        await hold_reserved(_context(services), mine, "u", event.id, event.seat_ids, reject)

    assert _holder(services, event.id, event.seat_ids) == {}


def _seat_map_version(services: Services, event_id: str) -> int:
    prefix = services.settings.redis_prefix
    return int(services.redis.get(f"{seatmap_key(prefix, event_id)}:version") or 0)


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

    async def hold(reservation: Reservation | None) -> HoldSeatsResult:
        raise AssertionError("the saga must not be asked")

    before = _claim_refusals()
    with pytest.raises(DomainError) as refused:
        await claim_and_hold(_context(services), mine, "u", event.id, event.seat_ids[:2], hold)

    assert refused.value.code == ErrorCode.SEATS_UNAVAILABLE
    assert refused.value.details["seat_ids"] == event.seat_ids[:1]
    assert _claim_refusals() == before + 1
    assert _holder(services, event.id, event.seat_ids) == {}  # DynamoDB was never written
    assert _claims(services, event.id) == {event.seat_ids[0]: other}


async def test_a_hold_refused_by_dynamodb_drops_the_claims_it_took(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    other, mine = str(uuid.uuid4()), str(uuid.uuid4())
    # a lock without a claim (taken while Redis was away): DynamoDB still decides
    unclaimed = DynamoSeatLocks(services.dynamodb, services.settings.seat_lock_table)
    assert unclaimed.acquire(event.id, event.seat_ids[:1], other, "u", 60).acquired

    async def hold(reservation: Reservation | None) -> HoldSeatsResult:
        raise AssertionError("the saga must not be asked")

    with pytest.raises(DomainError) as refused:
        await claim_and_hold(_context(services), mine, "u", event.id, event.seat_ids[:2], hold)

    assert refused.value.details["seat_ids"] == event.seat_ids[:1]
    assert _claims(services, event.id) == {}


async def test_a_granted_hold_leaves_the_seats_claimed_by_the_checkout(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=2)
    mine = str(uuid.uuid4())

    async def hold(reservation: Reservation | None) -> HoldSeatsResult:
        return HoldSeatsResult(held=True, seat_ids=event.seat_ids)

    result = await claim_and_hold(_context(services), mine, "u", event.id, event.seat_ids, hold)

    assert result.held
    assert _claims(services, event.id) == {seat: mine for seat in event.seat_ids}
    assert _holder(services, event.id, event.seat_ids) == {seat: mine for seat in event.seat_ids}
    services.seat_locks.release(event.id, event.seat_ids, mine)
    assert _claims(services, event.id) == {}


async def test_the_saga_is_handed_the_reservation_with_its_expiry_and_prices(
    services: Services, event_factory: Any
) -> None:
    event = event_factory(seats=3)
    mine = str(uuid.uuid4())
    handed: list[Reservation | None] = []

    async def hold(reservation: Reservation | None) -> HoldSeatsResult:
        handed.append(reservation)
        return HoldSeatsResult(held=True, seat_ids=event.seat_ids[:2])

    version = _seat_map_version(services, event.id)

    await claim_and_hold(_context(services), mine, "u", event.id, event.seat_ids[:2], hold)

    assert _seat_map_version(services, event.id) == version + 1  # the new locks, announced
    [reservation] = handed
    assert reservation is not None
    live = services.seat_locks.live_locks(event.id)
    assert {lock.expires_at for lock in live} == {reservation.expires_at}
    quote = PostgresCatalog(services.engine).quote(event.id, event.seat_ids[:2])
    assert reservation.prices == {seat.seat_id: str(seat.price) for seat in quote.seats}
    assert reservation.currency == quote.currency
    services.seat_locks.release(event.id, event.seat_ids, mine)
