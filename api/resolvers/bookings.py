"""The seed's lockSeat / createBooking on the saga, plus bookings of the caller."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from api.context import Context, ctx
from api.errors import bad_input, not_found
from api.metrics import CHECKOUTS, LOCK_ACQUISITIONS
from api.resolvers.checkouts import checked_token, count_outcome
from api.resolvers.common import (
    acting_user,
    claim_and_hold,
    failure,
    seats_arg,
    uuid_arg,
)
from api.resolvers.scalars import iso_from_epoch
from api.services import run_sync
from domain.checkout import CheckoutStatus
from domain.errors import DomainError, ErrorCode
from domain.model import Booking, BookingStatus
from domain.refunds import refund_refusal
from workflows.contract import HoldSeatsResult, Reservation

query = QueryType()
mutation = MutationType()
booking_type = ObjectType("Booking")
booking_type.set_alias("bookingReference", "reference")
booking_type.set_alias("totalPrice", "total")


async def hold_in_open_checkout(
    context: Context, user_id: str, event_id: str, seat_ids: list[str]
) -> tuple[HoldSeatsResult, str]:
    """Adds seats to the caller's open checkout for the event, opening one if needed.

    A buyer refused by the seats' claims, the selection checks or the reservation opens
    nothing (``claim_and_hold`` runs all three before ``hold``). Two concurrent calls of one
    buyer agree on one checkout (the pointer is set only if absent), and a checkout that turns
    out closed (paid, failed, expired, cancelled) is replaced by a compare-and-set, so they
    agree on its successor too.
    """
    pointers = context.services.open_checkouts
    client = await context.services.checkouts()
    checkout_id = await run_sync(pointers.current, user_id, event_id) or str(uuid.uuid4())
    for _ in range(3):
        closed = False

        async def hold(
            reservation: Reservation | None, checkout_id: str = checkout_id
        ) -> HoldSeatsResult:
            opened = await run_sync(pointers.get_or_open, user_id, event_id, checkout_id)
            if opened != checkout_id:
                raise _OpenedElsewhere(opened)
            return await client.start_and_hold(
                checkout_id, user_id, event_id, seat_ids, reservation
            )

        try:
            result = await claim_and_hold(context, checkout_id, user_id, event_id, seat_ids, hold)
            closed = not result.held and result.failure_reason == ErrorCode.CHECKOUT_CLOSED
        except _OpenedElsewhere as other:
            checkout_id = other.checkout_id
            continue
        except DomainError as exc:
            if exc.code != ErrorCode.CHECKOUT_CLOSED:
                raise
            closed = True
        if not closed:
            return result, checkout_id
        checkout_id = await run_sync(pointers.replace, user_id, event_id, checkout_id)
    raise DomainError(ErrorCode.CHECKOUT_CLOSED, "could not open a checkout; please retry")


class _OpenedElsewhere(DomainError):
    """A concurrent call of the same buyer opened the checkout first: hold in that one."""

    def __init__(self, checkout_id: str) -> None:
        super().__init__(ErrorCode.CHECKOUT_CLOSED, "another checkout was opened")
        self.checkout_id = checkout_id


@mutation.field("lockSeat")
async def resolve_lock_seat(
    _: Any, info: GraphQLResolveInfo, seat_id: str, event_id: str, user_id: str
) -> dict[str, Any]:
    context = ctx(info)
    user = acting_user(context, user_id)
    seat = uuid_arg(seat_id, "seatId")
    event = uuid_arg(event_id, "eventId")
    try:
        result, checkout_id = await hold_in_open_checkout(context, user, event, [seat])
    except DomainError as exc:
        LOCK_ACQUISITIONS.labels("refused").inc()
        return failure(exc, taken_seat_ids=exc.details.get("seat_ids"))
    LOCK_ACQUISITIONS.labels("acquired" if result.held else "refused").inc()
    if not result.held:
        message = result.message or "seat not held"
        if result.taken:
            message = f"seat(s) already held or booked: {', '.join(result.taken)}"
        return {
            "success": False,
            "message": message,
            "failure_reason": result.failure_reason or ErrorCode.SEATS_UNAVAILABLE.value,
            "taken_seat_ids": result.taken,
        }
    return {
        "success": True,
        "lock_id": checkout_id,
        "expires_at": iso_from_epoch(result.expires_at),
        "message": f"{len(result.seat_ids)} seat(s) held in checkout {checkout_id}",
    }


def _lock_invalid(message: str) -> dict[str, Any]:
    return failure(DomainError(ErrorCode.LOCK_INVALID, message))


@mutation.field("createBooking")
async def resolve_create_booking(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any], user_id: str
) -> dict[str, Any]:
    context = ctx(info)
    user = acting_user(context, user_id)
    event = uuid_arg(input["event_id"], "eventId")
    seats = seats_arg(input["seat_ids"], context.services.settings.max_seats_per_checkout)
    lock_ids = {uuid_arg(lock, "lockIds") for lock in input["lock_ids"]}
    token = checked_token(context, input.get("payment_token"))
    # One open checkout per (buyer, event): every lockSeat answered with the same lock id.
    if len(lock_ids) != 1:
        return _lock_invalid("lockIds must all name the same hold (one checkout per event)")
    checkout_id = lock_ids.pop()
    client = await context.services.checkouts()
    try:
        state = await client.state(checkout_id)
    except DomainError:
        return _lock_invalid("no such hold")
    if state.user_id != user or state.event_id != event:
        return _lock_invalid("this hold is not yours for this event")
    if state.status == CheckoutStatus.CONFIRMED.value and sorted(state.seat_ids) == seats:
        booking = await run_sync(context.services.bookings.get_by_checkout, checkout_id)
        return {"success": True, "booking": booking, "message": "already booked"}
    if state.status == CheckoutStatus.EXPIRED.value:
        return failure(DomainError(ErrorCode.LOCK_EXPIRED, "the hold has expired"))
    if state.status != CheckoutStatus.HELD.value:
        return _lock_invalid(f"the hold is {state.status}")
    if sorted(state.seat_ids) != seats:
        return _lock_invalid("seatIds must be exactly the held seats")
    try:
        final = await client.submit_payment(checkout_id, token, seats)
    except DomainError as exc:
        return failure(exc)
    count_outcome(final)
    if final.status != CheckoutStatus.CONFIRMED.value:
        return {
            "success": False,
            "message": final.failure_message or f"checkout {final.status}",
            "failure_reason": final.failure_reason or final.status,
        }
    await run_sync(context.services.open_checkouts.forget, user, event, checkout_id)
    booking = await run_sync(context.services.bookings.get_by_checkout, checkout_id)
    return {"success": True, "booking": booking, "message": "booking confirmed"}


@query.field("myBookings")
async def resolve_my_bookings(_: Any, info: GraphQLResolveInfo) -> list[Booking]:
    context = ctx(info)
    user = context.require_user().user_id
    return await run_sync(context.services.bookings.list_for_user, user)


async def _owned_booking(context: Context, reference: str) -> Booking:
    user = context.require_user().user_id
    if not isinstance(reference, str) or not 1 <= len(reference.strip()) <= 20:
        raise bad_input("malformed booking reference", field="reference")
    booking = await run_sync(context.services.bookings.get_by_reference, reference)
    if booking is None or booking.user_id != user:
        raise not_found("booking")
    return booking


@query.field("booking")
async def resolve_booking(_: Any, info: GraphQLResolveInfo, reference: str) -> Booking:
    return await _owned_booking(ctx(info), reference)


@mutation.field("cancelBooking")
async def resolve_cancel_booking(_: Any, info: GraphQLResolveInfo, reference: str) -> Any:
    context = ctx(info)
    booking = await _owned_booking(context, reference)
    if booking.status == BookingStatus.REFUNDED:
        return {"success": True, "booking": booking, "message": "already refunded"}
    if booking.status != BookingStatus.CONFIRMED:
        return failure(DomainError(ErrorCode.INVALID_INPUT, f"booking is {booking.status}"))
    services = context.services
    event = await run_sync(services.catalog.get_event, booking.event_id)
    if event is not None:
        refusal = refund_refusal(event.status, event.event_date, datetime.now(UTC))
        if refusal is not None:
            return failure(refusal, booking=booking)
    # Refund first: if marking the booking fails after it, a retry (same idempotency key)
    # finishes the job; the other order could leave a captured payment with no booking.
    if booking.payment_intent_id:
        try:
            await run_sync(
                services.payments.refund,
                booking.payment_intent_id,
                f"refund:{booking.checkout_id}",
            )
        except DomainError as exc:
            return failure(exc, booking=booking)
    refunded = await run_sync(services.bookings.mark_refunded, booking.checkout_id)
    await run_sync(
        services.seatmap_events.changed, booking.event_id, list(booking.seat_ids), "cancelled"
    )
    CHECKOUTS.labels("REFUNDED").inc()
    return {"success": True, "booking": refunded, "message": "booking cancelled and refunded"}


BINDABLES = [query, mutation, booking_type]
