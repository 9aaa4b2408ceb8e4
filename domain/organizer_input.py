"""An organizer's event fields, checked before anything is written. Pure: ``now`` is passed in.

A new event is checked whole (``new_event``); an update is checked as the event it would
leave behind (``updated_event``: the current fields with the given ones over them), so a new
``eventDate`` cannot slip before the stored ``onSaleAt`` and the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.validation import CENT, parse_uuid, validate_currency

MAX_NAME, MAX_DESCRIPTION = 200, 5_000
MAX_BASE_PRICE = Decimal("100000")
MAX_TICKETS_PER_BUYER = 100
# How far ahead an event may be announced; further is a typo in the year.
MAX_EVENT_AHEAD = timedelta(days=5 * 366)
# A sale opening in the past opens at publishing; one "opening" years ago is a typo.
MAX_ON_SALE_PAST = timedelta(days=30)


@dataclass(frozen=True)
class EventFields:
    name: str
    description: str | None
    event_date: datetime
    base_price: Decimal
    currency: str
    on_sale_at: datetime | None
    max_tickets_per_buyer: int | None


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("name", "name must not be empty")
    if len(value.strip()) > MAX_NAME:
        raise _invalid("name", f"name is longer than {MAX_NAME} characters")
    return value.strip()


def _description(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _invalid("description", "description must be text")
    if len(value) > MAX_DESCRIPTION:
        raise _invalid("description", f"description is longer than {MAX_DESCRIPTION} characters")
    return value.strip()


def _base_price(value: Any) -> Decimal:
    # Floats are refused: a binary float cannot carry a price exactly.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise _invalid("basePrice", "basePrice must be a decimal string")
    price = Decimal(value)
    if not price.is_finite() or price < 0:
        raise _invalid("basePrice", "basePrice must not be negative")
    if price > MAX_BASE_PRICE:
        raise _invalid("basePrice", f"basePrice must be at most {MAX_BASE_PRICE}")
    if price != price.quantize(CENT):
        raise _invalid("basePrice", "basePrice has more than two decimals")
    return price.quantize(CENT)


def _moment(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise _invalid(field, f"{field} must be a date and time with a time zone")
    return value


def _ticket_limit(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("maxTicketsPerBuyer", "maxTicketsPerBuyer must be a whole number")
    if not 1 <= value <= MAX_TICKETS_PER_BUYER:
        raise _invalid(
            "maxTicketsPerBuyer", f"maxTicketsPerBuyer must be 1 to {MAX_TICKETS_PER_BUYER}"
        )
    return value


def _check_dates(fields: EventFields, now: datetime, new_on_sale_at: bool = True) -> EventFields:
    if fields.event_date <= now:
        raise _invalid("eventDate", "eventDate must be in the future")
    if fields.event_date > now + MAX_EVENT_AHEAD:
        raise _invalid("eventDate", "eventDate is more than 5 years ahead")
    if fields.on_sale_at is not None:
        if fields.on_sale_at >= fields.event_date:
            raise _invalid("onSaleAt", "onSaleAt must be before eventDate")
        # Only a newly given one: an old draft's date that has since passed is not a typo.
        if new_on_sale_at and fields.on_sale_at < now - MAX_ON_SALE_PAST:
            raise _invalid("onSaleAt", "onSaleAt is more than 30 days in the past")
    return fields


def new_event(data: Mapping[str, Any], now: datetime) -> EventFields:
    """An ``EventInput`` (snake_case keys) checked whole. Raises DomainError INVALID_INPUT."""
    fields = EventFields(
        name=_name(data.get("name")),
        description=_description(data.get("description")),
        event_date=_moment(data.get("event_date"), "eventDate"),
        base_price=_base_price(data.get("base_price")),
        currency=validate_currency(data.get("currency"), "currency"),  # type: ignore[arg-type]
        on_sale_at=None
        if data.get("on_sale_at") is None
        else _moment(data["on_sale_at"], "onSaleAt"),
        max_tickets_per_buyer=_ticket_limit(data.get("max_tickets_per_buyer")),
    )
    return _check_dates(fields, now)


# The fields an update may clear with an explicit null; the others are required.
_NULLABLE = frozenset({"description", "on_sale_at", "max_tickets_per_buyer"})
_PARSERS: dict[str, Any] = {
    "name": _name,
    "description": _description,
    "event_date": lambda v: _moment(v, "eventDate"),
    "base_price": _base_price,
    "currency": lambda v: validate_currency(v, "currency"),
    "on_sale_at": lambda v: None if v is None else _moment(v, "onSaleAt"),
    "max_tickets_per_buyer": _ticket_limit,
}


def updated_event(current: EventFields, data: Mapping[str, Any], now: datetime) -> EventFields:
    """The event as an ``EventUpdateInput`` leaves it: only the keys present change.

    Raises:
        DomainError: INVALID_INPUT for a bad field, a null for a required one, or dates that
            no longer fit together (``onSaleAt`` at or after ``eventDate``, a past date).
    """
    changes: dict[str, Any] = {}
    for key, value in data.items():
        parse = _PARSERS.get(key)
        if parse is None:
            raise _invalid(key, f"{key} cannot be changed")
        if value is None and key not in _NULLABLE:
            raise _invalid(key, f"{key} cannot be null")
        changes[key] = parse(value)
    return _check_dates(replace(current, **changes), now, "on_sale_at" in changes)


MAX_BLOCK_REASON = 200  # event_seats.block_reason
MAX_SEATS_PER_CHANGE = 100_000  # a whole venue at most


def block_reason(value: Any) -> str:
    """Why seats go off sale (house seats, a sponsor, a broken seat): short text, required."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid("reason", "say why the seats are blocked")
    if len(value.strip()) > MAX_BLOCK_REASON:
        raise _invalid("reason", f"reason is longer than {MAX_BLOCK_REASON} characters")
    return value.strip()


def seat_ids_to_change(values: Any) -> list[str]:
    """Seat ids to block or unblock, canonical, sorted and once each (a repeat is harmless)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise _invalid("seatIds", "name at least one seat")
    if len(values) > MAX_SEATS_PER_CHANGE:
        raise _invalid("seatIds", f"at most {MAX_SEATS_PER_CHANGE} seats at once")
    return sorted({parse_uuid(value, "seatIds") for value in values})
