"""Catalog contract (quote): PostgreSQL and the in-memory fake price and refuse alike."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from domain.errors import DomainError, ErrorCode
from domain.model import ConfirmRequest, PricedSeat
from tests.factories import BookingWorld, MemoryWorld, PostgresWorld


@pytest.fixture(params=["memory", "postgres"])
def world(request: pytest.FixtureRequest) -> BookingWorld:
    if request.param == "memory":
        return MemoryWorld()
    return PostgresWorld(request.getfixturevalue("engine"))


def test_quote_prices_each_seat_half_up_in_the_event_currency(world: BookingWorld) -> None:
    event = world.new_event(
        n_seats=3,
        base_price=Decimal("20.25"),
        modifiers=[Decimal("0.5"), Decimal("1"), Decimal("1.333")],
        currency="EUR",
    )
    by_modifier = {m: s for s, m in event.modifiers.items()}
    half, full, odd = (by_modifier[Decimal(m)] for m in ("0.5", "1", "1.333"))

    quote = world.catalog.quote(event.event_id, [odd, half, full])

    assert quote.event_id == event.event_id
    assert quote.currency == "EUR"
    expected = {
        half: Decimal("10.13"),  # 10.125: half up, where half even would give 10.12
        full: Decimal("20.25"),
        odd: Decimal("26.99"),  # 26.99325
    }
    assert quote.seats == tuple(PricedSeat(s, expected[s]) for s in sorted(expected))
    assert quote.total == Decimal("57.37")


def test_quote_accepts_ids_in_any_case(world: BookingWorld) -> None:
    event = world.new_event(n_seats=1)

    quote = world.catalog.quote(event.event_id.upper(), [event.seat_ids[0].upper()])

    assert quote.seats == (PricedSeat(event.seat_ids[0], Decimal("50.00")),)


def test_quote_of_an_unknown_event_is_not_found(world: BookingWorld) -> None:
    with pytest.raises(DomainError) as err:
        world.catalog.quote(str(uuid.uuid4()), [str(uuid.uuid4())])
    assert err.value.code is ErrorCode.NOT_FOUND


def test_quote_of_seats_outside_the_event_is_not_found(world: BookingWorld) -> None:
    event, other = world.new_event(n_seats=2), world.new_event(n_seats=1)
    stranger = str(uuid.uuid4())

    with pytest.raises(DomainError) as err:
        world.catalog.quote(event.event_id, [event.seat_ids[0], other.seat_ids[0], stranger])

    assert err.value.code is ErrorCode.NOT_FOUND
    assert err.value.details["seat_ids"] == sorted([other.seat_ids[0], stranger])


@pytest.mark.parametrize("status", ["DRAFT", "SOLD_OUT", "CANCELLED", "COMPLETED"])
def test_quote_of_an_event_not_on_sale_is_refused(world: BookingWorld, status: str) -> None:
    event = world.new_event(n_seats=1, status=status)

    with pytest.raises(DomainError) as err:
        world.catalog.quote(event.event_id, event.seat_ids)

    assert err.value.code is ErrorCode.EVENT_NOT_ON_SALE


def test_quote_of_booked_seats_names_them(world: BookingWorld) -> None:
    event = world.new_event(n_seats=3)
    booked = event.seat_ids[1]
    world.store.confirm(
        ConfirmRequest(
            checkout_id=str(uuid.uuid4()),
            user_id=world.new_user(),
            event_id=event.event_id,
            seat_ids=(booked,),
            total=Decimal("50.00"),
            currency="USD",
        )
    )

    with pytest.raises(DomainError) as err:
        world.catalog.quote(event.event_id, event.seat_ids)

    assert err.value.code is ErrorCode.SEATS_UNAVAILABLE
    assert err.value.details["seat_ids"] == [booked]
    assert world.catalog.quote(event.event_id, [event.seat_ids[0]]).total == Decimal("50.00")


@pytest.mark.parametrize(
    ("event_id", "seat_ids", "code"),
    [
        ("not-a-uuid", "VALID", ErrorCode.INVALID_INPUT),
        ("'; DROP TABLE events; --", "VALID", ErrorCode.INVALID_INPUT),
        ("EVENT", ["12"], ErrorCode.INVALID_INPUT),
        ("EVENT", [], ErrorCode.INVALID_INPUT),
        ("EVENT", "a-string-not-a-list", ErrorCode.INVALID_INPUT),
        ("EVENT", "DUPLICATE", ErrorCode.DUPLICATE_SEATS),
    ],
)
def test_malformed_quotes_are_input_errors_not_database_errors(
    world: BookingWorld, event_id: str, seat_ids: object, code: ErrorCode
) -> None:
    event = world.new_event(n_seats=1)
    event_id = event.event_id if event_id == "EVENT" else event_id
    if seat_ids == "VALID":
        seat_ids = event.seat_ids
    elif seat_ids == "DUPLICATE":
        seat_ids = event.seat_ids * 2

    with pytest.raises(DomainError) as err:
        world.catalog.quote(event_id, seat_ids)  # type: ignore[arg-type]

    assert err.value.code is code
