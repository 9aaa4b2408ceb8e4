"""Organizers: roles, venues with their layouts, events, blocked seats, their own lists.

Every mutation answers a refusal (FORBIDDEN, NOT_FOUND, INVALID_INPUT, INVALID_STATE) as its
payload and writes nothing; the checks run in this order: signed in (a top-level
UNAUTHENTICATED error), role and ownership (``api/roles.py``), the input (``domain/``), then the
one transaction of ``adapters/organizer_store.py``. The queries turn the same refusals into
top-level errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo

from adapters.catalog import EventInfo, VenueInfo
from adapters.organizer_store import OrganizerStore
from api.context import Context, ctx
from api.errors import from_domain
from api.resolvers.common import event_payload, failure
from api.resolvers.lifecycle import events_client
from api.roles import managed_event, managed_venue, require_role
from api.services import Services, run_sync
from domain.errors import DomainError, ErrorCode
from domain.model import EventStatus, Role
from domain.organizer_input import block_reason, new_event, seat_ids_to_change
from domain.venue_layout import lay_out, venue_spec

query = QueryType()
mutation = MutationType()


def _store(services: Services) -> OrganizerStore:
    # Stateless over the shared engine: building one per call costs nothing.
    return OrganizerStore(services.engine, services.settings.db_lock_timeout_ms)


@mutation.field("grantRole")
async def resolve_grant_role(
    _: Any, info: GraphQLResolveInfo, user_id: str, role: str
) -> dict[str, Any]:
    context = ctx(info)
    try:
        if not context.require_user().has_role(Role.ADMIN):
            raise DomainError(ErrorCode.FORBIDDEN, "only an ADMIN grants roles")
        user = await run_sync(context.services.users.grant_role, user_id, Role(role).value)
        if user is None:
            raise DomainError(ErrorCode.NOT_FOUND, "user not found")
    except DomainError as exc:
        return failure(exc, user=None)
    return {"success": True, "user": user}


async def _laid_out_venue(
    context: Context, data: dict[str, Any], venue_id: str | None
) -> VenueInfo:
    if venue_id is None:
        identity = require_role(context, Role.ORGANIZER)
    else:
        identity = await managed_venue(context, venue_id)
    spec = venue_spec(data)
    # Up to 100,000 seats of arithmetic: off the event loop.
    layout = await run_sync(lay_out, spec)
    store = _store(context.services)
    if venue_id is None:
        return await run_sync(store.create_venue, identity.user_id, spec, layout)
    return await run_sync(store.update_venue, venue_id, spec, layout)


@mutation.field("createVenue")
async def resolve_create_venue(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    try:
        venue = await _laid_out_venue(ctx(info), input, None)
    except DomainError as exc:
        return failure(exc, venue=None)
    return {"success": True, "venue": venue}


@mutation.field("updateVenue")
async def resolve_update_venue(
    _: Any, info: GraphQLResolveInfo, venue_id: str, input: dict[str, Any]
) -> dict[str, Any]:
    try:
        venue = await _laid_out_venue(ctx(info), input, venue_id)
    except DomainError as exc:
        return failure(exc, venue=None)
    return {"success": True, "venue": venue}


@mutation.field("createEvent")
async def resolve_create_event(
    _: Any, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, Any]:
    context = ctx(info)
    try:
        identity = await managed_venue(context, input["venue_id"])
        fields = new_event(input, datetime.now(UTC))
        event_id = await run_sync(
            _store(context.services).create_event, identity.user_id, input["venue_id"], fields
        )
    except DomainError as exc:
        return failure(exc, event=None)
    return await event_payload(context.services, event_id)


@mutation.field("updateEvent")
async def resolve_update_event(
    _: Any, info: GraphQLResolveInfo, event_id: str, input: dict[str, Any]
) -> dict[str, Any]:
    context = ctx(info)
    try:
        _, event = await managed_event(context, event_id)
        store = _store(context.services)
        status = await run_sync(store.update_event, event.id, input, datetime.now(UTC))
    except DomainError as exc:
        return failure(exc, event=None)
    if status == EventStatus.SCHEDULED:
        # Its lifecycle workflow holds a timer at the old onSaleAt. Sent even when nothing
        # changed, so a retry after this call failed still re-arms it.
        await (await events_client(context)).refresh(event.id)
    return await event_payload(context.services, event.id)


@mutation.field("blockSeats")
async def resolve_block_seats(
    _: Any, info: GraphQLResolveInfo, event_id: str, seat_ids: list[str], reason: str
) -> dict[str, Any]:
    context = ctx(info)
    try:
        _, event = await managed_event(context, event_id)
        seats, why = seat_ids_to_change(seat_ids), block_reason(reason)
        changed = await run_sync(_store(context.services).block_seats, event.id, seats, why)
    except DomainError as exc:
        return failure(exc, event=None)
    await _announce(context.services, event.id, changed, "blocked")
    return await event_payload(context.services, event.id)


@mutation.field("unblockSeats")
async def resolve_unblock_seats(
    _: Any, info: GraphQLResolveInfo, event_id: str, seat_ids: list[str]
) -> dict[str, Any]:
    context = ctx(info)
    try:
        _, event = await managed_event(context, event_id)
        seats = seat_ids_to_change(seat_ids)
        changed = await run_sync(_store(context.services).unblock_seats, event.id, seats)
    except DomainError as exc:
        return failure(exc, event=None)
    await _announce(context.services, event.id, changed, "unblocked")
    return await event_payload(context.services, event.id)


async def _announce(services: Services, event_id: str, seat_ids: list[str], kind: str) -> None:
    # The cached seat map and the rendered responses key on the event's seat-map version:
    # announcing the change is what makes the next availableSeats/seatMap read see it.
    if seat_ids:
        await run_sync(services.seatmap_events.changed, event_id, seat_ids, kind)


def _owner_filter(context: Context) -> str | None:
    """Whose items to list: the caller's own, or everyone's for an ADMIN."""
    try:
        identity = require_role(context, Role.ORGANIZER)
    except DomainError as exc:
        raise from_domain(exc) from None
    return None if identity.has_role(Role.ADMIN) else identity.user_id


@query.field("myVenues")
async def resolve_my_venues(_: Any, info: GraphQLResolveInfo) -> list[VenueInfo]:
    context = ctx(info)
    owner = _owner_filter(context)
    return await run_sync(_store(context.services).venues_of, owner)


@query.field("myEvents")
async def resolve_my_events(_: Any, info: GraphQLResolveInfo) -> list[EventInfo]:
    context = ctx(info)
    owner = _owner_filter(context)
    return await run_sync(context.services.catalog.list_for_organizer, owner)


BINDABLES = [query, mutation]
