"""The per-buyer limit's arithmetic (``domain/ticket_limit.py``)."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, ErrorCode
from domain.ticket_limit import check_ticket_limit


@pytest.mark.parametrize(
    ("limit", "booked", "held", "requested"),
    [(None, 50, 50, 50), (4, 0, 0, 4), (4, 2, 1, 1), (1, 0, 0, 1)],
)
def test_holds_up_to_the_limit_pass(
    limit: int | None, booked: int, held: int, requested: int
) -> None:
    check_ticket_limit(limit, booked, held, requested)


@pytest.mark.parametrize(
    ("limit", "booked", "held", "requested", "room"),
    [(4, 0, 0, 5, 4), (4, 2, 1, 2, 1), (4, 4, 0, 1, 0), (2, 3, 0, 1, 0), (3, 0, 3, 1, 0)],
)
def test_one_seat_past_the_limit_is_refused_with_the_counts(
    limit: int, booked: int, held: int, requested: int, room: int
) -> None:
    with pytest.raises(DomainError) as refused:
        check_ticket_limit(limit, booked, held, requested)

    assert refused.value.code == ErrorCode.TICKET_LIMIT_REACHED
    assert refused.value.details == {
        "limit": limit,
        "booked": booked,
        "held": held,
        "requested": requested,
    }
    message = refused.value.message
    assert f"at most {limit} ticket(s)" in message
    assert f"you have {booked + held} ({booked} booked, {held} held)" in message
    assert f"so {room} more can be held" in message
