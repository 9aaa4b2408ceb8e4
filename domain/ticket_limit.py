"""The per-buyer ticket limit (``events.max_tickets_per_buyer``): pure arithmetic.

The limit counts every seat a buyer has of one event: the seats its CONFIRMED bookings own
plus the seats its open checkout holds. One open checkout per buyer per event (``api/
open_checkout.py``) and the checkout workflow's serialized holds make the count exact when
the hold step applies this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class BuyerHolding:
    """Whose hold the quote prices, and how many seats that buyer's checkout holds already
    (the workflow knows them; the booked ones are counted by the catalog)."""

    user_id: str
    held: int = 0


def check_ticket_limit(limit: int | None, booked: int, held: int, requested: int) -> None:
    """Refuses a hold that would give the buyer more than ``limit`` seats of the event.

    Raises:
        DomainError: TICKET_LIMIT_REACHED, with the limit and the buyer's counts as details.
    """
    if limit is None:
        return
    owned = booked + held
    if owned + requested <= limit:
        return
    room = max(0, limit - owned)
    raise DomainError(
        ErrorCode.TICKET_LIMIT_REACHED,
        f"at most {limit} ticket(s) per buyer for this event: you have {owned} "
        f"({booked} booked, {held} held), so {room} more can be held, not {requested}",
        limit=limit,
        booked=booked,
        held=held,
        requested=requested,
    )
