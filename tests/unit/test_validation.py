from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.validation import (
    parse_uuid,
    validate_amount,
    validate_currency,
    validate_payment_token,
    validate_seat_selection,
)

uuids = st.uuids().map(str)


@given(st.uuids())
def test_parse_uuid_returns_the_canonical_form(value: uuid.UUID) -> None:
    canonical = str(value)
    assert parse_uuid(canonical.upper(), "x") == canonical
    assert parse_uuid(value.hex, "x") == canonical
    assert parse_uuid(canonical, "x") == canonical


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "1234", "g" * 32, None, 42])
def test_parse_uuid_names_the_field(bad: object) -> None:
    with pytest.raises(DomainError) as info:
        parse_uuid(bad, "event_id")  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert info.value.details["field"] == "event_id"


@given(st.text(max_size=40))
def test_parse_uuid_accepts_only_uuids(text: str) -> None:
    try:
        expected = str(uuid.UUID(text.strip()))
    except ValueError:
        with pytest.raises(DomainError):
            parse_uuid(text, "f")
    else:
        assert parse_uuid(text, "f") == expected


@given(st.lists(st.uuids(), min_size=1, max_size=10, unique=True))
def test_selection_is_canonical_and_sorted(seats: list[uuid.UUID]) -> None:
    given_ids = [str(seat).upper() for seat in seats]
    result = validate_seat_selection(given_ids)
    assert result == tuple(sorted(str(seat) for seat in seats))


@given(st.lists(uuids, min_size=1, max_size=8, unique=True), st.data())
def test_duplicates_are_reported(seats: list[str], data: st.DataObject) -> None:
    duplicated = data.draw(st.lists(st.sampled_from(seats), min_size=1, unique=True))
    # the same seat written in another case is still the same seat
    selection = seats + [seat.upper() for seat in duplicated]
    with pytest.raises(DomainError) as info:
        validate_seat_selection(selection, max_seats=100)
    assert info.value.code is ErrorCode.DUPLICATE_SEATS
    assert info.value.details["seat_ids"] == sorted(duplicated)


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_at_most_max_seats(count: int, max_seats: int) -> None:
    seats = [str(uuid.uuid4()) for _ in range(count)]
    if count <= max_seats:
        assert len(validate_seat_selection(seats, max_seats=max_seats)) == count
    else:
        with pytest.raises(DomainError) as info:
            validate_seat_selection(seats, max_seats=max_seats)
        assert info.value.code is ErrorCode.TOO_MANY_SEATS
        assert info.value.details == {"max_seats": max_seats, "count": count}


@pytest.mark.parametrize("bad", [[], "0b3f0a0c-7e52-4a4f-9f7c-0c6d7b1e8a11", ["nope"], None])
def test_selection_refuses_bad_shapes(bad: object) -> None:
    with pytest.raises(DomainError) as info:
        validate_seat_selection(bad)  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert info.value.details["field"] == "seat_ids"


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2))
def test_valid_amounts_come_back_with_two_decimals(amount: Decimal) -> None:
    result = validate_amount(amount)
    assert result == amount
    assert result.as_tuple().exponent == -2


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_amount_rule(amount: Decimal) -> None:
    # Bounds first: quantize() itself refuses numbers past the context's precision.
    in_range = amount.is_finite() and Decimal("0") < amount <= Decimal("9999999999.99")
    valid = in_range and amount == amount.quantize(Decimal("0.01"))
    if valid:
        assert validate_amount(amount) == amount
    else:
        with pytest.raises(DomainError) as info:
            validate_amount(amount)
        assert info.value.code is ErrorCode.INVALID_INPUT


@pytest.mark.parametrize(
    "bad", [Decimal("0"), Decimal("-1"), Decimal("1.001"), Decimal("NaN"), 1.5, True, "10"]
)
def test_amount_refusals(bad: object) -> None:
    with pytest.raises(DomainError) as info:
        validate_amount(bad)  # type: ignore[arg-type]
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert info.value.details["field"] == "amount"


def test_amount_accepts_whole_numbers() -> None:
    assert str(validate_amount(Decimal("5"))) == "5.00"
    assert str(validate_amount(5)) == "5.00"


def test_currency() -> None:
    assert validate_currency("usd") == "USD"
    assert validate_currency(" eur ") == "EUR"
    for bad in ("US", "USDX", "U$D", "", None, "XYZ", "XAU", "ABC"):
        with pytest.raises(DomainError):
            validate_currency(bad)  # type: ignore[arg-type]


def test_payment_token() -> None:
    assert validate_payment_token(None) is None
    assert validate_payment_token("  ") is None
    assert validate_payment_token(" tok_visa ") == "tok_visa"
    for bad in ("tok visa", "tok;drop", "x" * 65, 42):
        with pytest.raises(DomainError) as info:
            validate_payment_token(bad)  # type: ignore[arg-type]
        assert info.value.code is ErrorCode.INVALID_INPUT
        assert info.value.details["field"] == "payment_token"


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=70))
def test_payment_token_shape(token: str) -> None:
    stripped = token.strip()
    try:
        result = validate_payment_token(token)
    except DomainError:
        assert len(stripped) > 64 or not all(c.isalnum() or c in "_-" for c in stripped)
    else:
        assert result == (stripped or None)
