"""Helpers shared by resolvers: argument parsing, ownership, payloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from adapters.catalog import EventInfo
from api.context import Context
from api.errors import bad_input, forbidden, from_domain, not_found
from api.metrics import HOLD_STEP, SEAT_CLAIMS
from api.services import Services, run_sync
from domain.errors import DomainError, ErrorCode
from domain.model import AcquireResult, EventStatus, PricedSeat, Quote, SeatStatus
from domain.pricing import total
from domain.validation import parse_uuid, validate_seat_selection
from workflows.contract import CheckoutState, HoldSeatsResult, Reservation

# The saga's part of a hold: starts or wakes the checkout with the API's reservation.
Hold = Callable[[Reservation | None], Awaitable[HoldSeatsResult]]


def uuid_arg(value: Any, field: str) -> str:
    try:
        return parse_uuid(value, field)
    except DomainError as exc:
        raise bad_input(exc.message, field=field) from None


def seats_arg(values: Sequence[Any], max_seats: int) -> list[str]:
    try:
        return list(validate_seat_selection(values, max_seats=max_seats))
    except DomainError as exc:
        raise from_domain(exc) from None


def acting_user(context: Context, user_id_arg: Any | None = None) -> str:
    """The authenticated user; a ``userId`` argument must name that same user."""
    identity = context.require_user()
    if user_id_arg is not None:
        claimed = uuid_arg(user_id_arg, "userId")
        if claimed != identity.user_id:
            raise forbidden("userId must be the authenticated user")
    return identity.user_id


async def event_or_404(services: Services, event_id: str) -> EventInfo:
    event = await run_sync(services.catalog.get_event, event_id)
    if event is None:
        raise not_found("event")
    return event


async def check_selection(context: Context, event_id: str, seat_ids: list[str]) -> Quote:
    """Before anything is started: the event exists and is on sale, the seats are its own
    and not booked; then their prices. Raises NOT_FOUND errors or DomainError (a payload
    failure)."""
    event, rows = await run_sync(context.services.catalog.selection, event_id, seat_ids)
    if event is None:
        raise not_found("event")
    found = {row.id: row for row in rows}
    missing = [s for s in seat_ids if s not in found]
    if missing:
        raise not_found(f"seat {missing[0]} in this event")
    if event.status != EventStatus.ON_SALE.value:
        raise DomainError(ErrorCode.EVENT_NOT_ON_SALE, f"event is {event.status}")
    booked = [s for s in seat_ids if found[s].status != SeatStatus.AVAILABLE.value]
    if booked:
        raise DomainError(
            ErrorCode.SEATS_UNAVAILABLE,
            f"seat(s) already booked: {', '.join(booked)}",
            seat_ids=booked,
        )
    seats = tuple(PricedSeat(s, found[s].price) for s in seat_ids)
    return Quote(event_id, event.currency, seats, total(s.price for s in seats))


def claimed_by_others(taken: Sequence[str]) -> DomainError:
    """The refusal of a hold whose seats other checkouts claim or lock (``api/hold_refusals.py``
    builds the same payload without graphql-core, so both read it from here). "Another
    checkout", not "another buyer": it may be the caller's own earlier one."""
    return DomainError(
        ErrorCode.SEATS_UNAVAILABLE,
        f"seat(s) held by another checkout: {', '.join(taken)}",
        seat_ids=list(taken),
    )


async def claim_and_hold(
    context: Context,
    checkout_id: str,
    user_id: str,
    event_id: str,
    seat_ids: list[str],
    hold: Hold,
) -> HoldSeatsResult:
    """The hold path of ``startCheckout``, ``holdSeats`` and ``lockSeat``: claim, check,
    wait for admission, reserve, hold.

    The seats' Redis claims come first (``adapters/seat_claims.py``): seats that another
    checkout claims are refused after that one call, before PostgreSQL, DynamoDB or Temporal
    are asked anything. Claims this call took are dropped again when the hold goes no further.
    They replaced a consistent read of the seats' DynamoDB locks here: with the claims
    mirroring every grant, that read found nothing in almost every hold that got past them,
    and ``acquire`` still refuses the rare seat locked without a claim.
    Holds then wait for their turn at the saga (``api/admission.py``) before taking any lock,
    so a lock's expiry is not spent in that line.
    Raises DomainError (a payload failure) or NOT_FOUND.
    """
    claims = context.services.claims
    claim = await claims.claim(
        event_id, seat_ids, checkout_id, context.services.settings.hold_seconds
    )
    SEAT_CLAIMS.labels("claimed" if claim.claimed else "refused").inc()
    if not claim.claimed:
        raise claimed_by_others(claim.taken)
    try:
        quote = await check_selection(context, event_id, seat_ids)
        async with context.services.hold_admission.slot():
            result = await hold_reserved(
                context, checkout_id, user_id, event_id, seat_ids, hold, quote
            )
    except BaseException:
        # Also after an unexpected error: a dropped claim only sends the next buyer of these
        # seats to DynamoDB, which refuses them if the saga holds them after all.
        await claims.unclaim(event_id, claim.fresh, checkout_id)
        raise
    if not result.held:
        await claims.unclaim(event_id, claim.fresh, checkout_id)
    return result


async def hold_reserved(
    context: Context,
    checkout_id: str,
    user_id: str,
    event_id: str,
    seat_ids: list[str],
    hold: Hold,
    quote: Quote | None = None,
) -> HoldSeatsResult:
    """Takes the seats' locks for ``checkout_id``, then lets the saga hold them.

    The API's conditional writes use the saga's own holder token (the checkout id), and the
    saga's hold step re-takes them (acquire is re-entrant), so the saga stays the authority.
    What this buys: a buyer whose seats another checkout holds is refused by DynamoDB in
    milliseconds, and no workflow is ever started or woken for them; in a flash sale that
    is most buyers. Seats this call newly locked are given back when the saga refuses them;
    after an unexpected error they are left to lapse at their expiry, since the saga may
    hold them by then.

    With the seats' ``quote``, the saga gets the reservation itself (expiry, prices), and a
    first hold adopts it instead of reading the locks back (``workflows/checkout.py``), so
    the seat map hears of the new locks from here.
    """
    services = context.services

    def reserve() -> AcquireResult:
        # One thread hop for both: the lock writes, then the seat map hears of the new locks.
        reserved = services.seat_locks.acquire(
            event_id, seat_ids, checkout_id, user_id, services.settings.hold_seconds
        )
        if reserved.fresh:
            services.seatmap_events.changed(event_id, list(reserved.fresh), "held")
        return reserved

    with HOLD_STEP.labels("reserve").time():
        reserved = await run_sync(reserve)
    if not reserved.acquired:
        raise claimed_by_others(reserved.taken)
    reservation = None
    if quote is not None:
        prices = {seat.seat_id: str(seat.price) for seat in quote.seats}
        reservation = Reservation(reserved.expires_at, prices, quote.currency)
    try:
        with HOLD_STEP.labels("saga").time():
            result = await hold(reservation)
    except DomainError:
        await give_back(context, event_id, reserved.fresh, checkout_id)
        raise
    if not result.held:
        await give_back(context, event_id, reserved.fresh, checkout_id)
    return result


async def give_back(
    context: Context, event_id: str, seat_ids: Sequence[str], checkout_id: str
) -> None:
    if not seat_ids:
        return
    services = context.services
    released = await run_sync(services.seat_locks.release, event_id, list(seat_ids), checkout_id)
    if released:
        await run_sync(services.seatmap_events.changed, event_id, list(seat_ids), "released")


async def owned_checkout(context: Context, checkout_id: str) -> CheckoutState:
    """The caller's checkout; someone else's is indistinguishable from an unknown one."""
    user_id = context.require_user().user_id
    client = await context.services.checkouts()
    try:
        state = await client.state(checkout_id)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise not_found("checkout") from None
        raise
    if state.user_id != user_id:
        raise not_found("checkout")
    return state


def failure(error: DomainError, **extra: Any) -> dict[str, Any]:
    return {"success": False, "message": error.message, "failure_reason": error.code.value, **extra}
