"""The waiting room's operations: joinQueue, queueStatus, queueUpdates, and for organizers
setWaitingRoom and waitingRoom (``adapters/waiting_room_service.py`` does the work)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, SubscriptionType
from graphql import GraphQLResolveInfo
from redis.exceptions import RedisError

from adapters.catalog import EventInfo
from adapters.waiting_room_service import QueueStatus, WaitingRoom
from api.context import Context, ctx
from api.errors import from_domain
from api.resolvers.common import failure, uuid_arg
from api.roles import managed_event
from domain.errors import DomainError
from domain.waiting_room import QueueState

query = QueryType()
mutation = MutationType()
subscription = SubscriptionType()
queue_status = ObjectType("QueueStatus")
event_type = ObjectType("Event")

_FINAL = frozenset({QueueState.TURN_EXPIRED, QueueState.SOLD_OUT, QueueState.CLOSED})


def room(context: Context) -> WaitingRoom:
    waiting_room = context.services.waiting_room
    assert waiting_room is not None, "bootstrap.build_services wires the waiting room"
    return waiting_room


@queue_status.field("admissionExpiresAt")
def resolve_expires(status: QueueStatus, *_: Any) -> datetime | None:
    expires = status.admission_expires_at
    return None if expires is None else datetime.fromtimestamp(expires, UTC)


@queue_status.field("expectedTurnAt")
def resolve_expected_turn_at(status: QueueStatus, *_: Any) -> datetime | None:
    if status.turn_at_ms is None:
        return None
    return datetime.fromtimestamp(status.turn_at_ms / 1000, UTC)


@queue_status.field("admittedAt")
def resolve_admitted_at(status: QueueStatus, *_: Any) -> datetime | None:
    if status.admitted_at_ms is None:
        return None
    return datetime.fromtimestamp(status.admitted_at_ms / 1000, UTC)


@event_type.field("waitingRoom")
async def resolve_event_waiting_room(event: EventInfo, info: GraphQLResolveInfo) -> bool:
    """The event page's cue to show the queue, signed in or not (queueStatus needs a buyer).
    It reads the room's own copy of the event, the one the hold check reads, so the page and
    the check agree within that copy's second of staleness."""
    waiting_room = ctx(info).services.waiting_room
    if waiting_room is None:  # as in the hold path: no room wired, no admission needed
        return False
    found = await waiting_room.event(event.id)
    return found is not None and found.room_on


@mutation.field("joinQueue")
async def resolve_join(_: Any, info: GraphQLResolveInfo, event_id: str) -> dict[str, Any]:
    context = ctx(info)
    user_id = context.require_user().user_id
    event = uuid_arg(event_id, "eventId")
    try:
        status = await room(context).join(user_id, event)
    except DomainError as exc:
        return failure(exc, status=None)
    return {"success": True, "status": status, "message": status.message, "failure_reason": None}


@query.field("queueStatus")
async def resolve_status(_: Any, info: GraphQLResolveInfo, event_id: str) -> QueueStatus:
    context = ctx(info)
    user_id = context.require_user().user_id
    try:
        return await room(context).status(user_id, uuid_arg(event_id, "eventId"))
    except DomainError as exc:
        raise from_domain(exc) from None


@subscription.source("queueUpdates")
async def queue_updates_source(
    _: Any, info: GraphQLResolveInfo, event_id: str
) -> AsyncIterator[QueueStatus]:
    """Asks the room as often as it suggests (``pollAfterMs``), sending each change, until the
    buyer's turn ends or the sale is sold out or closed. Checked before the stream starts."""
    context = ctx(info)
    user_id = context.require_user().user_id
    waiting_room = room(context)
    event = uuid_arg(event_id, "eventId")
    try:
        first = await waiting_room.status(user_id, event)
    except DomainError as exc:
        raise from_domain(exc) from None
    return _updates(waiting_room, user_id, event, first)


def _fingerprint(status: QueueStatus) -> tuple[Any, ...]:
    """What the buyer is shown: a change in any of it is sent."""
    return (
        status.state,
        status.position,
        status.ahead,
        status.eta_seconds,
        status.admission,
        status.seats_may_come_back,
    )


async def _updates(
    waiting_room: WaitingRoom, user_id: str, event_id: str, status: QueueStatus
) -> AsyncIterator[QueueStatus]:
    last = _fingerprint(status)
    yield status
    while status.room_on and status.state not in _FINAL:
        # as the room suggests (its clock admits meanwhile), and at once when the wait is over
        # for everyone (sold out, closed, the room switched off)
        await waiting_room.until_changed(event_id, status.poll_after_ms / 1000)
        try:
            status = await waiting_room.pushed_status(user_id, event_id)
        except RedisError:
            continue  # Redis failed this once (the backend watch tells an outage): ask again
        if _fingerprint(status) != last:
            last = _fingerprint(status)
            yield status


@subscription.field("queueUpdates")
def resolve_queue_updates(status: QueueStatus, *_: Any, **__: Any) -> QueueStatus:
    return status


@query.field("waitingRoom")
async def resolve_waiting_room(_: Any, info: GraphQLResolveInfo, event_id: str) -> dict[str, Any]:
    context = ctx(info)
    try:
        _, event = await managed_event(context, uuid_arg(event_id, "eventId"))
        return await room(context).operator_view(event.id)
    except DomainError as exc:
        raise from_domain(exc) from None


@mutation.field("setWaitingRoom")
async def resolve_set_waiting_room(
    _: Any, info: GraphQLResolveInfo, event_id: str, enabled: bool
) -> dict[str, Any]:
    context = ctx(info)
    waiting_room = room(context)
    try:
        _, event = await managed_event(context, uuid_arg(event_id, "eventId"))
    except DomainError as exc:
        return failure(exc, waiting_room=None)
    await waiting_room.switch(event.id, enabled)
    view = await waiting_room.operator_view(event.id)
    message = "the waiting room is on" if view["enabled"] else "the waiting room is off"
    if view["enabled"] and not enabled:
        message = "the waiting room stays on: the event has an onSaleAt"
    return {"success": True, "waiting_room": view, "message": message, "failure_reason": None}


BINDABLES = [query, mutation, subscription, queue_status, event_type]
