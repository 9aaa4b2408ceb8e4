"""publishEvent, pauseSales, resumeSales, cancelEvent and the eventCancellation query.

Each command goes to the event's lifecycle workflow (``adapters/event_client.py``), which
carries it out in PostgreSQL and announces the change (cached seat maps and availableSeats see
it on their next read). Refusals are the payload's ``failureReason``: FORBIDDEN and NOT_FOUND
from the role check before anything is sent, INVALID_STATE (and INVALID_INPUT) from the
workflow, which changed nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo

from adapters.event_client import EventClient
from adapters.ownership import ManagedEvent
from api.context import Context, ctx
from api.errors import from_domain
from api.resolvers.common import failure
from api.roles import managed_event
from api.services import run_sync
from domain.errors import DomainError, ErrorCode
from workflows.event_contract import CancellationProgress, EventSnapshot

mutation = MutationType()
query = QueryType()

MAX_REASON = 500

Command = Callable[[EventClient, ManagedEvent], Awaitable[EventSnapshot]]


async def events_client(context: Context) -> EventClient:
    """The lifecycle workflows run on the workers' task queue, beside the checkouts."""
    services = context.services
    return EventClient(await services.temporal.client(), services.settings.task_queue)


def _message(snapshot: EventSnapshot) -> str:
    if snapshot.status == "SCHEDULED" and snapshot.on_sale_at is not None:
        opens = datetime.fromtimestamp(snapshot.on_sale_at, UTC).isoformat()
        return f"the event is SCHEDULED: its sale opens at {opens}"
    return f"the event is {snapshot.status}"


async def _command(info: GraphQLResolveInfo, event_id: str, run: Command) -> dict[str, Any]:
    context = ctx(info)
    catalog = context.services.catalog
    try:
        _, event = await managed_event(context, event_id)
    except DomainError as exc:
        return failure(exc, event=None)
    try:
        snapshot = await run(await events_client(context), event)
    except DomainError as exc:
        return failure(exc, event=await run_sync(catalog.get_event, event.id))
    return {
        "success": True,
        "message": _message(snapshot),
        "failure_reason": None,
        "event": await run_sync(catalog.get_event, event.id),
    }


@mutation.field("publishEvent")
async def resolve_publish(_: Any, info: GraphQLResolveInfo, event_id: str) -> dict[str, Any]:
    return await _command(info, event_id, lambda c, e: c.publish(e.id, e.status))


@mutation.field("pauseSales")
async def resolve_pause(_: Any, info: GraphQLResolveInfo, event_id: str) -> dict[str, Any]:
    return await _command(info, event_id, lambda c, e: c.pause(e.id, e.status))


@mutation.field("resumeSales")
async def resolve_resume(_: Any, info: GraphQLResolveInfo, event_id: str) -> dict[str, Any]:
    return await _command(info, event_id, lambda c, e: c.resume(e.id, e.status))


@mutation.field("cancelEvent")
async def resolve_cancel(
    _: Any, info: GraphQLResolveInfo, event_id: str, reason: str
) -> dict[str, Any]:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        refusal = DomainError(
            ErrorCode.INVALID_INPUT,
            f"a reason of 1 to {MAX_REASON} characters is required",
            field="reason",
        )
        return failure(refusal, event=None)
    return await _command(info, event_id, lambda c, e: c.cancel(e.id, reason, e.status))


@query.field("eventCancellation")
async def resolve_event_cancellation(
    _: Any, info: GraphQLResolveInfo, event_id: str
) -> CancellationProgress | None:
    context = ctx(info)
    try:
        _, event = await managed_event(context, event_id)
    except DomainError as exc:
        raise from_domain(exc) from None
    return await (await events_client(context)).cancellation(event.id)


BINDABLES = [mutation, query]
