from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.model import Money
from domain.pricing import seat_money, seat_price, total, total_money

bases = st.decimals(min_value=0, max_value=Decimal("100000"), places=2)
modifiers = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999.999"), places=3)


def test_rounds_half_up_to_the_cent() -> None:
    assert seat_price(Decimal("10.00"), Decimal("1.0005")) == Decimal("10.01")  # 10.005
    assert seat_price(Decimal("10.00"), Decimal("1.0004")) == Decimal("10.00")  # 10.004
    assert seat_price(Decimal("33.33"), Decimal("1.5")) == Decimal("50.00")  # 49.995
    assert seat_price(Decimal("0.01"), Decimal("0.5")) == Decimal("0.01")  # 0.005


@pytest.mark.parametrize(
    ("base", "modifier", "field"),
    [
        (Decimal("-0.01"), Decimal("1"), "base_price"),
        (Decimal("10"), Decimal("0"), "modifier"),
        (Decimal("10"), Decimal("-1"), "modifier"),
        (Decimal("NaN"), Decimal("1"), "base_price"),
        (Decimal("10"), Decimal("Infinity"), "modifier"),
        (10.0, Decimal("1"), "base_price"),
        (Decimal("10"), 1.5, "modifier"),
        (Decimal("1e30"), Decimal("2"), "base_price"),
    ],
)
def test_refuses_bad_input(base: Decimal, modifier: Decimal, field: str) -> None:
    with pytest.raises(DomainError) as info:
        seat_price(base, modifier)
    assert info.value.code is ErrorCode.INVALID_INPUT
    assert info.value.details["field"] == field


@given(bases, modifiers)
def test_never_negative_and_exactly_two_decimals(base: Decimal, modifier: Decimal) -> None:
    price = seat_price(base, modifier)
    assert price >= 0
    assert price.as_tuple().exponent == -2


@given(bases, modifiers)
def test_within_half_a_cent_of_the_exact_product(base: Decimal, modifier: Decimal) -> None:
    assert abs(seat_price(base, modifier) - base * modifier) <= Decimal("0.005")


@given(bases)
def test_modifier_one_is_the_base_price(base: Decimal) -> None:
    assert seat_price(base, Decimal("1")) == base


@given(bases, modifiers, modifiers)
def test_monotone_in_modifier(base: Decimal, m1: Decimal, m2: Decimal) -> None:
    low, high = sorted((m1, m2))
    assert seat_price(base, low) <= seat_price(base, high)


@given(st.lists(st.tuples(bases, modifiers), max_size=20))
def test_total_is_the_sum_of_rounded_seat_prices(seats: list[tuple[Decimal, Decimal]]) -> None:
    prices = [seat_price(base, modifier) for base, modifier in seats]
    result = total(prices)
    assert result == sum(prices, Decimal("0"))
    assert result.as_tuple().exponent == -2
    assert result >= 0


def test_total_refuses_unrounded_or_negative_prices() -> None:
    for bad in (Decimal("1.005"), Decimal("-1.00"), 1.5):
        with pytest.raises(DomainError) as info:
            total([Decimal("1.00"), bad])  # type: ignore[list-item]
        assert info.value.code is ErrorCode.INVALID_INPUT


def test_total_of_nothing_is_zero() -> None:
    assert total([]) == Decimal("0.00")
    assert str(total([])) == "0.00"


def test_money_keeps_the_currency_and_refuses_mixing() -> None:
    usd = seat_money(Money(Decimal("20.00"), "usd"), Decimal("1.25"))
    assert usd == Money(Decimal("25.00"), "USD")
    assert total_money([usd, usd]) == Money(Decimal("50.00"), "USD")
    assert total_money([], currency="EUR") == Money(Decimal("0.00"), "EUR")
    for prices, currency in (
        ([usd, Money(Decimal("1.00"), "EUR")], None),
        ([usd], "EUR"),
        ([], None),
        ([Money(Decimal("1.00"), "US")], None),
    ):
        with pytest.raises(DomainError) as info:
            total_money(prices, currency=currency)
        assert info.value.code is ErrorCode.INVALID_INPUT
