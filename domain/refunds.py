"""When a booking may still be cancelled for a refund: a pure rule, tested without servers."""

from __future__ import annotations

from datetime import datetime

from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus


def refund_refusal(event_status: str, event_date: datetime, now: datetime) -> DomainError | None:
    """None while a booking can be cancelled and refunded: until its event takes place. A
    cancelled event refunds what was not refunded yet, whenever it is asked; a completed one,
    or any whose date has passed, no longer refunds."""
    if event_status == EventStatus.CANCELLED:
        return None
    if event_status == EventStatus.COMPLETED or event_date <= now:
        return DomainError(
            ErrorCode.EVENT_ALREADY_TOOK_PLACE,
            "the event has already taken place: its bookings can no longer be refunded",
        )
    return None
