"""Decimal (money, modifiers) as strings, never floats; DateTime as ISO-8601."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ariadne import ScalarType

from api.errors import bad_input

decimal_scalar = ScalarType("Decimal")
datetime_scalar = ScalarType("DateTime")


@decimal_scalar.serializer
def serialize_decimal(value: Any) -> str:
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    return str(Decimal(value))


@decimal_scalar.value_parser
def parse_decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise bad_input("Decimal values are sent as strings")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise bad_input(f"not a decimal: {value[:40]!r}") from None
    if not result.is_finite():
        raise bad_input("Decimal must be finite")
    return result


@datetime_scalar.serializer
def serialize_datetime(value: Any) -> str:
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


@datetime_scalar.value_parser
def parse_datetime(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise bad_input("DateTime must be ISO-8601") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_from_epoch(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()
