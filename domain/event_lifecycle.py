"""An event's lifecycle: which status a command leads to, from which status. Pure rules.

    DRAFT ──publish──► SCHEDULED ──onSaleAt──► ON_SALE ◄──► SOLD_OUT (every sellable seat booked)
                            │                   │  ▲
                            └──pause──► PAUSED ◄┘  └──resume
    any but COMPLETED ──cancel──► CANCELLED;   after the event date ──► COMPLETED

The API asks these rules to refuse a command at once with a clear reason; the event's
lifecycle workflow applies them when it carries the command out, so both agree.
"""

from __future__ import annotations

from datetime import datetime

from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus

S = EventStatus

# Holds are taken only while the sale is open; a booking may still complete for seats held
# before a pause, or the one that sells the event out.
_HOLDS = frozenset({S.ON_SALE})
_BOOKINGS = frozenset({S.ON_SALE, S.PAUSED, S.SOLD_OUT})
_EDITABLE = frozenset({S.DRAFT, S.SCHEDULED})
_PAUSABLE = frozenset({S.SCHEDULED, S.ON_SALE, S.SOLD_OUT})
_FINAL = frozenset({S.CANCELLED, S.COMPLETED})


def accepts_holds(status: str) -> bool:
    return status in _HOLDS


def accepts_bookings(status: str) -> bool:
    return status in _BOOKINGS


def is_editable(status: str) -> bool:
    """Name, dates, prices and limits may change only before the sale opens."""
    return status in _EDITABLE


def is_published(status: str) -> bool:
    return status != S.DRAFT


def _refuse(status: str, action: str) -> DomainError:
    return DomainError(
        ErrorCode.INVALID_STATE, f"cannot {action} an event that is {status}", status=status
    )


def opening_status(on_sale_at: datetime | None, now: datetime) -> EventStatus:
    """A sale that opens now, or later."""
    return S.SCHEDULED if on_sale_at is not None and on_sale_at > now else S.ON_SALE


def publish(status: str, on_sale_at: datetime | None, now: datetime) -> EventStatus:
    if status != S.DRAFT:
        raise _refuse(status, "publish")
    return opening_status(on_sale_at, now)


def open_sale(status: str, seats_left: bool = True) -> EventStatus:
    """The ``onSaleAt`` timer fired: a paused or cancelled event stays as it is; an event
    with no sellable seat left (every one blocked) opens sold out."""
    if status != S.SCHEDULED:
        return S(status)
    return S.ON_SALE if seats_left else S.SOLD_OUT


def is_final(status: str) -> bool:
    """Nothing changes a cancelled or completed event any more."""
    return status in _FINAL


def pause(status: str) -> EventStatus:
    if status not in _PAUSABLE:
        raise _refuse(status, "pause")
    return S.PAUSED


def resume(
    status: str, on_sale_at: datetime | None, now: datetime, seats_left: bool
) -> EventStatus:
    if status != S.PAUSED:
        raise _refuse(status, "resume")
    reopened = opening_status(on_sale_at, now)
    return S.SOLD_OUT if reopened == S.ON_SALE and not seats_left else reopened


def after_booking_change(status: str, seats_left: bool) -> EventStatus:
    """SOLD_OUT when the last sellable seat is booked; ON_SALE again when one comes back."""
    if status == S.ON_SALE and not seats_left:
        return S.SOLD_OUT
    if status == S.SOLD_OUT and seats_left:
        return S.ON_SALE
    return S(status)


def cancel(status: str) -> EventStatus:
    if status == S.CANCELLED:
        raise DomainError(ErrorCode.INVALID_STATE, "the event is already cancelled", status=status)
    if status == S.COMPLETED:
        raise _refuse(status, "cancel")
    return S.CANCELLED


def complete(status: str) -> EventStatus:
    """The event date passed: a cancelled event stays cancelled."""
    return S(status) if status in _FINAL else S.COMPLETED
