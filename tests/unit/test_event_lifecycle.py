"""The event lifecycle's pure rules (domain/event_lifecycle.py): every command from every status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import event_lifecycle as rules
from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus

S = EventStatus
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EARLIER = NOW - timedelta(hours=1)
ALL = list(S)


def refused(call: object) -> DomainError:
    with pytest.raises(DomainError) as err:
        call()  # type: ignore[operator]
    assert err.value.code is ErrorCode.INVALID_STATE
    return err.value


@pytest.mark.parametrize(
    ("on_sale_at", "expected"), [(None, S.ON_SALE), (EARLIER, S.ON_SALE), (LATER, S.SCHEDULED)]
)
def test_publish_opens_now_or_schedules(on_sale_at: datetime | None, expected: S) -> None:
    assert rules.publish(S.DRAFT, on_sale_at, NOW) is expected


@pytest.mark.parametrize("status", [s for s in ALL if s is not S.DRAFT])
def test_only_a_draft_is_published(status: S) -> None:
    error = refused(lambda: rules.publish(status, None, NOW))
    assert status.value in error.message and error.details["status"] == status


def test_open_sale_opens_only_a_scheduled_event() -> None:
    assert rules.open_sale(S.SCHEDULED) is S.ON_SALE
    assert rules.open_sale(S.SCHEDULED, seats_left=False) is S.SOLD_OUT
    for status in (S.PAUSED, S.CANCELLED, S.ON_SALE, S.SOLD_OUT, S.COMPLETED, S.DRAFT):
        assert rules.open_sale(status) is status


@pytest.mark.parametrize("status", [S.SCHEDULED, S.ON_SALE, S.SOLD_OUT])
def test_pause_from_a_published_live_event(status: S) -> None:
    assert rules.pause(status) is S.PAUSED


@pytest.mark.parametrize("status", [S.DRAFT, S.PAUSED, S.CANCELLED, S.COMPLETED])
def test_pause_refused(status: S) -> None:
    refused(lambda: rules.pause(status))


def test_resume_reopens_schedules_or_sells_out() -> None:
    assert rules.resume(S.PAUSED, None, NOW, seats_left=True) is S.ON_SALE
    assert rules.resume(S.PAUSED, EARLIER, NOW, seats_left=True) is S.ON_SALE
    assert rules.resume(S.PAUSED, LATER, NOW, seats_left=True) is S.SCHEDULED
    assert rules.resume(S.PAUSED, None, NOW, seats_left=False) is S.SOLD_OUT
    # before the sale opens there is nothing to sell out yet
    assert rules.resume(S.PAUSED, LATER, NOW, seats_left=False) is S.SCHEDULED


@pytest.mark.parametrize("status", [s for s in ALL if s is not S.PAUSED])
def test_resume_refused_unless_paused(status: S) -> None:
    refused(lambda: rules.resume(status, None, NOW, seats_left=True))


@pytest.mark.parametrize(
    ("status", "seats_left", "expected"),
    [
        (S.ON_SALE, False, S.SOLD_OUT),
        (S.ON_SALE, True, S.ON_SALE),
        (S.SOLD_OUT, True, S.ON_SALE),
        (S.SOLD_OUT, False, S.SOLD_OUT),
        (S.PAUSED, False, S.PAUSED),
        (S.PAUSED, True, S.PAUSED),
        (S.CANCELLED, True, S.CANCELLED),
        (S.COMPLETED, True, S.COMPLETED),
        (S.SCHEDULED, False, S.SCHEDULED),
    ],
)
def test_after_booking_change(status: S, seats_left: bool, expected: S) -> None:
    assert rules.after_booking_change(status, seats_left) is expected


@pytest.mark.parametrize("status", [S.DRAFT, S.SCHEDULED, S.ON_SALE, S.PAUSED, S.SOLD_OUT])
def test_cancel(status: S) -> None:
    assert rules.cancel(status) is S.CANCELLED


def test_cancel_twice_or_after_the_event_is_refused() -> None:
    assert "already cancelled" in refused(lambda: rules.cancel(S.CANCELLED)).message
    refused(lambda: rules.cancel(S.COMPLETED))


@pytest.mark.parametrize("status", ALL)
def test_complete_keeps_final_states(status: S) -> None:
    expected = status if status in (S.CANCELLED, S.COMPLETED) else S.COMPLETED
    assert rules.complete(status) is expected
    assert rules.is_final(rules.complete(status))


def test_what_takes_holds_and_bookings() -> None:
    assert [s for s in ALL if rules.accepts_holds(s)] == [S.ON_SALE]
    assert {s for s in ALL if rules.accepts_bookings(s)} == {S.ON_SALE, S.PAUSED, S.SOLD_OUT}
    assert {s for s in ALL if rules.is_editable(s)} == {S.DRAFT, S.SCHEDULED}
    assert [s for s in ALL if not rules.is_published(s)] == [S.DRAFT]
