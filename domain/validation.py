"""Input rules shared by the API, the saga and the adapters. Pure: no I/O, no clock.

Every refusal is a ``DomainError`` with a stable code and the offending field, raised before
anything changes, so callers can validate first and act second.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from domain.currencies import TICKET_CURRENCIES
from domain.errors import DomainError, ErrorCode

CENT = Decimal("0.01")
# The largest value a Numeric(12, 2) column holds: refusing above it here keeps "bad input
# changes nothing" true instead of surfacing as a database error halfway through a write.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_TOKEN_LENGTH = 64
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
# A UUID already in the canonical form ``str(uuid.UUID(...))`` gives, as clients send ids back.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _invalid(field: str, message: str, **details: object) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field, **details)


def parse_uuid(value: str, field: str) -> str:
    """Returns the canonical lower-case hyphenated form of ``value``.

    Raises:
        DomainError: INVALID_INPUT (``details["field"] == field``) if ``value`` is not a UUID.
    """
    if not isinstance(value, str):
        raise _invalid(field, f"{field} must be a UUID string")
    if _CANONICAL_UUID.fullmatch(value):
        return value  # its own canonical form, without building a UUID on every request
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _invalid(field, f"{field} is not a valid UUID: {value[:64]!r}") from None


def validate_seat_selection(seat_ids: Sequence[str], max_seats: int = 10) -> tuple[str, ...]:
    """Checks a multi-seat selection and returns it canonical and sorted.

    Sorted order is what the lock adapter acquires in (no deadlock between two holds), so the
    canonical form is also the processing order.

    Raises:
        DomainError: INVALID_INPUT (not a list of UUIDs, or empty), DUPLICATE_SEATS
            (``details["seat_ids"]``: each duplicated seat once), TOO_MANY_SEATS
            (``details["max_seats"]``, ``details["count"]``).
    """
    # A bare string is a Sequence[str] too; iterating it would validate single characters.
    if isinstance(seat_ids, str | bytes) or not isinstance(seat_ids, Sequence):
        raise _invalid("seat_ids", "seat_ids must be a list of seat ids")
    if max_seats < 1:
        raise _invalid("max_seats", "max_seats must be at least 1")
    canonical = [parse_uuid(seat_id, "seat_ids") for seat_id in seat_ids]
    if not canonical:
        raise _invalid("seat_ids", "select at least one seat")
    if len(set(canonical)) < len(canonical):
        duplicates = sorted(seat for seat, count in Counter(canonical).items() if count > 1)
        raise DomainError(
            ErrorCode.DUPLICATE_SEATS, "a seat is selected more than once", seat_ids=duplicates
        )
    if len(canonical) > max_seats:
        raise DomainError(
            ErrorCode.TOO_MANY_SEATS,
            f"at most {max_seats} seats per checkout",
            max_seats=max_seats,
            count=len(canonical),
        )
    return tuple(sorted(canonical))


def validate_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """Returns a positive amount with exactly two decimals (``Decimal("5")`` -> ``5.00``).

    Floats are refused: a binary float cannot carry a price exactly.

    Raises:
        DomainError: INVALID_INPUT if not a finite Decimal/int, not positive, more than two
            decimals, or above ``MAX_AMOUNT``.
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise _invalid(field, f"{field} must be a Decimal, not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite():
        raise _invalid(field, f"{field} must be a finite number")
    if value <= 0:
        raise _invalid(field, f"{field} must be positive", value=str(value))
    # Bound first: quantize() raises InvalidOperation past the context's precision.
    if value > MAX_AMOUNT:
        raise _invalid(field, f"{field} is too large", value=str(value))
    if value != value.quantize(CENT):
        raise _invalid(field, f"{field} has more than two decimals", value=str(value))
    return value.quantize(CENT)


def validate_currency(currency: str, field: str = "currency") -> str:
    """Returns the ISO 4217 code in upper case.

    Raises:
        DomainError: INVALID_INPUT if it is not three letters, or not a currency in use
            (``domain.currencies``): "XYZ" has the shape of a code but prices nothing.
    """
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency.strip().upper()):
        raise _invalid(field, f"{field} must be a three-letter ISO 4217 code")
    code = currency.strip().upper()
    if code not in TICKET_CURRENCIES:
        raise _invalid(field, f"{field} {code!r} is not a known ISO 4217 currency", value=code)
    return code


def validate_payment_token(token: str | None) -> str | None:
    """Checks the shape of a card token; ``None`` or blank means "no token given".

    Whether a processor knows the token is the processor's business, not the domain's.

    Raises:
        DomainError: INVALID_INPUT if the token is not a short string of ``[A-Za-z0-9_-]``.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise _invalid("payment_token", "payment token must be a string")
    stripped = token.strip()
    if not stripped:
        return None
    if len(stripped) > MAX_TOKEN_LENGTH or not _TOKEN_RE.fullmatch(stripped):
        raise _invalid("payment_token", "payment token is malformed")
    return stripped
