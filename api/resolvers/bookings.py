"""The seed's createBooking on the saga (its lockSeat: ``api/hold.py``), and the caller's
bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from api.context import Context, ctx
from api.errors import bad_input, not_found
from api.metrics import CHECKOUTS
from api.resolvers.checkouts import checked_token, count_outcome
from api.resolvers.common import acting_user, failure, seats_arg, uuid_arg
from api.services import run_sync
from domain.checkout import CheckoutStatus
from domain.errors import DomainError, ErrorCode
from domain.model import Booking, BookingStatus
from domain.refunds import refund_refusal

query = QueryType()
mutation = MutationType()
booking_type = ObjectType("Booking")
booking_type.set_alias("bookingReference", "reference")
booking_type.set_alias("totalPrice", "total")


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
