"""An organizer's event fields: what a new event and an update may say."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.organizer_input import (
    EventFields,
    block_reason,
    new_event,
    seat_ids_to_change,
    updated_event,
)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def event_input(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "venue_id": "ignored-here",
        "name": " Spring Gala ",
        "description": "Strings and brass.",
        "event_date": NOW + timedelta(days=30),
        "base_price": Decimal("49.5"),
        "currency": "eur",
        "on_sale_at": NOW + timedelta(days=2),
        "max_tickets_per_buyer": 6,
    }
    data.update(changes)
    return data


def refused(fn: Any, *args: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn(*args)
    assert info.value.code is ErrorCode.INVALID_INPUT
    return info.value


def test_a_valid_event_is_normalised() -> None:
    fields = new_event(event_input(), NOW)
    assert fields == EventFields(
        name="Spring Gala",
        description="Strings and brass.",
        event_date=NOW + timedelta(days=30),
        base_price=Decimal("49.50"),
        currency="EUR",
        on_sale_at=NOW + timedelta(days=2),
        max_tickets_per_buyer=6,
    )
    free = new_event(
        event_input(base_price=Decimal("0"), on_sale_at=None, max_tickets_per_buyer=None), NOW
    )
    assert (free.base_price, free.on_sale_at, free.max_tickets_per_buyer) == (
        Decimal("0.00"),
        None,
        None,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 5001}, "description"),
        ({"base_price": Decimal("-0.01")}, "basePrice"),
        ({"base_price": Decimal("100000.01")}, "basePrice"),
        ({"base_price": Decimal("1.005")}, "basePrice"),
        ({"base_price": Decimal("Infinity")}, "basePrice"),
        ({"base_price": 9.99}, "basePrice"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"event_date": NOW - timedelta(minutes=1)}, "eventDate"),
        ({"event_date": NOW + timedelta(days=6 * 366)}, "eventDate"),
        ({"event_date": datetime(2027, 6, 1)}, "eventDate"),  # no time zone
        ({"on_sale_at": NOW + timedelta(days=30)}, "onSaleAt"),  # at the event
        ({"on_sale_at": NOW + timedelta(days=31)}, "onSaleAt"),  # after it
        ({"on_sale_at": NOW - timedelta(days=31)}, "onSaleAt"),
        ({"max_tickets_per_buyer": 0}, "maxTicketsPerBuyer"),
        ({"max_tickets_per_buyer": 101}, "maxTicketsPerBuyer"),
    ],
)
def test_bad_event_fields_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    error = refused(new_event, event_input(**changes), NOW)
    assert error.details["field"] == field


def test_the_limits_themselves_are_allowed() -> None:
    fields = new_event(
        event_input(
            base_price=Decimal("100000.00"),
            max_tickets_per_buyer=100,
            on_sale_at=NOW - timedelta(days=29),
        ),
        NOW,
    )
    assert fields.base_price == Decimal("100000.00")


def test_an_update_changes_only_the_fields_given() -> None:
    current = new_event(event_input(), NOW)
    updated = updated_event(current, {"name": "New name", "max_tickets_per_buyer": None}, NOW)
    assert updated.name == "New name"
    assert updated.max_tickets_per_buyer is None
    assert updated.base_price == current.base_price
    assert updated_event(current, {}, NOW) == current


def test_an_update_is_checked_against_the_stored_dates() -> None:
    current = new_event(event_input(), NOW)
    # moving the event before its stored sale opening
    error = refused(updated_event, current, {"event_date": NOW + timedelta(days=1)}, NOW)
    assert error.details["field"] == "onSaleAt"
    error = refused(updated_event, current, {"on_sale_at": NOW + timedelta(days=40)}, NOW)
    assert error.details["field"] == "onSaleAt"
    both = updated_event(
        current,
        {"event_date": NOW + timedelta(days=60), "on_sale_at": NOW + timedelta(days=40)},
        NOW,
    )
    assert both.on_sale_at == NOW + timedelta(days=40)


def test_an_update_refuses_nulls_for_required_fields_and_unknown_fields() -> None:
    current = new_event(event_input(), NOW)
    for key in ("name", "event_date", "base_price", "currency"):
        assert refused(updated_event, current, {key: None}, NOW).details["field"] == key
    assert refused(updated_event, current, {"venue_id": "x"}, NOW).details["field"] == "venue_id"


def test_an_old_stored_sale_opening_does_not_block_other_edits() -> None:
    current = new_event(event_input(on_sale_at=NOW - timedelta(days=20)), NOW)
    later = NOW + timedelta(days=15)
    assert updated_event(current, {"name": "Renamed"}, later).name == "Renamed"


def test_a_block_needs_a_short_reason() -> None:
    assert block_reason("  House seats ") == "House seats"
    for bad in ("", "   ", None, "x" * 201):
        assert refused(block_reason, bad).details["field"] == "reason"


def test_seats_to_change_are_ids_once_each_in_order() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert seat_ids_to_change([b, a.upper(), b]) == sorted([a, b])
    for bad in ([], "not-a-list", ["seat-1"], [a, 7]):
        assert refused(seat_ids_to_change, bad).details["field"] == "seatIds"
