"""Seat pricing. Pure: Decimal in, Decimal out, one rounding rule.

The rounding rule: a seat's price is ``base_price * modifier`` rounded to the cent with
ROUND_HALF_UP (0.005 -> 0.01), the rule buyers expect from a price tag. Each seat is rounded
on its own and the total is the exact sum of those rounded prices, so the receipt always adds
up to the amount charged.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.errors import DomainError, ErrorCode
from domain.model import Money
from domain.validation import validate_currency

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _decimal(value: Decimal, field: str) -> Decimal:
    # Floats are refused: 0.1 as a float is not 0.1, and a price must be exact.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be a Decimal", field=field)
    result = Decimal(value)
    if not result.is_finite():
        raise DomainError(ErrorCode.INVALID_INPUT, f"{field} must be finite", field=field)
    return result


def round_money(amount: Decimal) -> Decimal:
    """The one rounding rule: to the cent, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def seat_price(base_price: Decimal, modifier: Decimal) -> Decimal:
    """``base_price * modifier``, rounded to the cent (ROUND_HALF_UP).

    Raises:
        DomainError: INVALID_INPUT if ``base_price`` is negative or ``modifier`` is not positive.
    """
    base = _decimal(base_price, "base_price")
    factor = _decimal(modifier, "modifier")
    if base < 0:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "base price must not be negative", field="base_price"
        )
    if factor <= 0:
        raise DomainError(ErrorCode.INVALID_INPUT, "modifier must be positive", field="modifier")
    try:
        return round_money(base * factor)
    except InvalidOperation:
        # beyond the context's 28 significant digits: no real price is that large
        raise DomainError(
            ErrorCode.INVALID_INPUT, "price is out of range", field="base_price"
        ) from None


def total(prices: Iterable[Decimal]) -> Decimal:
    """Exact sum of already-rounded seat prices, with two decimals (``0.00`` when empty).

    Raises:
        DomainError: INVALID_INPUT if a price is negative or not rounded to the cent (summing
            unrounded prices would break "total == sum of the prices on the receipt").
    """
    result = ZERO
    for price in prices:
        value = _decimal(price, "price")
        if value < 0 or value != value.quantize(CENT):
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "a price must be non-negative and rounded to the cent",
                field="price",
                value=str(value),
            )
        result += value
    return result.quantize(CENT)


def seat_money(base: Money, modifier: Decimal) -> Money:
    """``seat_price`` on Money: the seat costs ``base``'s currency."""
    return Money(seat_price(base.amount, modifier), validate_currency(base.currency))


def total_money(prices: Iterable[Money], currency: str | None = None) -> Money:
    """Sum of Money in one currency.

    ``currency`` is required for an empty list and, when given, every price must be in it.

    Raises:
        DomainError: INVALID_INPUT on mixed currencies or an empty list without a currency.
    """
    items = list(prices)
    currencies = {validate_currency(price.currency) for price in items}
    if currency is not None:
        currencies.add(validate_currency(currency))
    if len(currencies) > 1:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "prices in different currencies cannot be added",
            field="currency",
            currencies=sorted(currencies),
        )
    if not currencies:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "the currency of an empty total is unknown", field="currency"
        )
    return Money(total(price.amount for price in items), currencies.pop())
