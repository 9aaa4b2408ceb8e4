"""The refund rule: a booking can be cancelled for a refund until its event takes place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.errors import ErrorCode
from domain.refunds import refund_refusal

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_refunds_until_the_event_takes_place() -> None:
    assert refund_refusal("ON_SALE", NOW + timedelta(days=1), NOW) is None
    assert refund_refusal("SOLD_OUT", NOW + timedelta(seconds=1), NOW) is None


def test_no_refund_once_the_event_took_place_or_completed() -> None:
    for status, when in (("ON_SALE", NOW), ("SOLD_OUT", NOW - timedelta(days=1))):
        refusal = refund_refusal(status, when, NOW)
        assert refusal is not None and refusal.code is ErrorCode.EVENT_ALREADY_TOOK_PLACE
    completed = refund_refusal("COMPLETED", NOW + timedelta(days=1), NOW)
    assert completed is not None and completed.code is ErrorCode.EVENT_ALREADY_TOOK_PLACE


def test_a_cancelled_event_always_refunds() -> None:
    assert refund_refusal("CANCELLED", NOW - timedelta(days=30), NOW) is None
