"""Tickets (``Booking.tickets``), check-in at the door and the door staff.

A ticket's token is signed on demand from its ids (``domain/tickets.py``); whether it admits
is decided by PostgreSQL at the scan (``adapters/check_ins.py``). Who may scan for an event:
its organizer, an ADMIN, or staff the organizer named (any signed-in user); anyone else gets a
top-level FORBIDDEN, as for the sales report.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from adapters.check_ins import CheckInOutcome, PostgresCheckIns
from adapters.event_staff import PostgresEventStaff
from adapters.ownership import event_owner
from adapters.tickets import PostgresTickets, TicketSeat
from adapters.users import UserRecord
from api.auth import Identity
from api.context import Context, ctx
from api.errors import from_domain
from api.resolvers.common import event_payload, failure, uuid_arg
from api.roles import managed_event, may_manage
from api.services import Services, run_sync
from api.ticket_qr import qr_svg, ticket_label
from domain.errors import DomainError, ErrorCode
from domain.model import Booking
from domain.tickets import CheckInStatus, TicketClaims, TicketSigner

query = QueryType()
mutation = MutationType()
booking_type = ObjectType("Booking")
ticket_type = ObjectType("Ticket")

MAX_EMAIL_LENGTH = 320  # users.email


@lru_cache(maxsize=4)
def _signer(secret: str) -> TicketSigner:
    return TicketSigner(secret)


def signer(services: Services) -> TicketSigner:
    return _signer(services.settings.jwt_secret)


def _token(services: Services, ticket: TicketSeat) -> str:
    claims = TicketClaims(ticket.booking_id, ticket.seat_id, ticket.event_id)
    return signer(services).issue(claims)


@booking_type.field("tickets")
async def resolve_tickets(booking: Booking, info: GraphQLResolveInfo) -> list[TicketSeat]:
    # Booking objects reach the client only through their owner's queries and payloads.
    return await run_sync(PostgresTickets(ctx(info).services.engine).of_booking, booking.id)


@ticket_type.field("token")
def resolve_token(ticket: TicketSeat, info: GraphQLResolveInfo) -> str:
    return _token(ctx(info).services, ticket)


@ticket_type.field("qrSvg")
async def resolve_qr_svg(ticket: TicketSeat, info: GraphQLResolveInfo) -> str:
    token = _token(ctx(info).services, ticket)
    # ~20 ms of CPU per new code: off the event loop, so other requests interleave.
    return await run_sync(qr_svg, token, ticket_label(ticket.section, ticket.row, ticket.number))


@ticket_type.field("valid")
def resolve_valid(ticket: TicketSeat, _: GraphQLResolveInfo) -> bool:
    return ticket.refusal is None


async def door_keeper(context: Context, event_id: str) -> Identity:
    """The caller, if it may check the event's tickets in.

    Raises:
        ApiError: UNAUTHENTICATED.
        DomainError: NOT_FOUND (no such event), FORBIDDEN.
    """
    identity = context.require_user()
    services = context.services
    event = await run_sync(event_owner, services.engine, event_id)
    if event is None:
        raise DomainError(ErrorCode.NOT_FOUND, "event not found")
    if may_manage(identity, event.organizer_id):
        return identity
    if await run_sync(PostgresEventStaff(services.engine).is_staff, event_id, identity.user_id):
        return identity
    raise DomainError(
        ErrorCode.FORBIDDEN, "only the event's organizer, its door staff or an ADMIN check in"
    )


def _result(event_id: str, outcome: CheckInOutcome) -> dict[str, Any]:
    ticket = outcome.ticket
    return {
        "status": outcome.status.value,
        "message": outcome.message,
        "event_id": event_id,
        "seat_id": ticket.seat_id if ticket else None,
        "section": ticket.section if ticket else None,
        "row": ticket.row if ticket else None,
        "number": ticket.number if ticket else None,
        "booking_reference": ticket.booking_reference if ticket else None,
        "checked_in_at": outcome.checked_in_at,
    }


@mutation.field("checkIn")
async def resolve_check_in(
    _: Any, info: GraphQLResolveInfo, event_id: str, ticket: str
) -> dict[str, Any]:
    context = ctx(info)
    event = uuid_arg(event_id, "eventId")
    try:
        identity = await door_keeper(context, event)
    except DomainError as exc:
        raise from_domain(exc) from None
    claims = signer(context.services).read(ticket)
    if claims is None:
        outcome = CheckInOutcome(CheckInStatus.INVALID, "not a ticket of ours (forged or damaged)")
    elif claims.event_id != event:
        outcome = CheckInOutcome(CheckInStatus.INVALID, "this ticket is for another event")
    else:
        checks = PostgresCheckIns(context.services.engine)
        outcome = await run_sync(checks.check_in, claims, identity.user_id)
    return _result(event, outcome)


async def _staff_member(context: Context, event_id: str, email: str) -> tuple[Identity, str]:
    """The organizer acting and the named user's id."""
    identity, _ = await managed_event(context, event_id)
    if not isinstance(email, str) or not 0 < len(email.strip()) <= MAX_EMAIL_LENGTH:
        raise DomainError(ErrorCode.INVALID_INPUT, "a registered user's email", field="email")
    user = await run_sync(context.services.users.get_by_email, email)
    if user is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no user registered with this email")
    return identity, user.id


@mutation.field("addEventStaff")
async def resolve_add_event_staff(
    _: Any, info: GraphQLResolveInfo, event_id: str, email: str
) -> dict[str, Any]:
    context = ctx(info)
    try:
        identity, user_id = await _staff_member(context, event_id, email)
    except DomainError as exc:
        return failure(exc, event=None)
    staff = PostgresEventStaff(context.services.engine)
    await run_sync(staff.add, event_id, user_id, identity.user_id)
    return await event_payload(context.services, event_id)


@mutation.field("removeEventStaff")
async def resolve_remove_event_staff(
    _: Any, info: GraphQLResolveInfo, event_id: str, email: str
) -> dict[str, Any]:
    context = ctx(info)
    try:
        _, user_id = await _staff_member(context, event_id, email)
    except DomainError as exc:
        return failure(exc, event=None)
    # Removing someone who was not staff is still "they are not staff now": a success.
    await run_sync(PostgresEventStaff(context.services.engine).remove, event_id, user_id)
    return await event_payload(context.services, event_id)


@query.field("eventStaff")
async def resolve_event_staff(_: Any, info: GraphQLResolveInfo, event_id: str) -> list[UserRecord]:
    context = ctx(info)
    event = uuid_arg(event_id, "eventId")
    try:
        await managed_event(context, event)
    except DomainError as exc:
        raise from_domain(exc) from None
    return await run_sync(PostgresEventStaff(context.services.engine).of_event, event)


BINDABLES: list[Any] = [query, mutation, booking_type, ticket_type]
