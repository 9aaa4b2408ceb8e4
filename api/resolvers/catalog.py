"""Events and the seat map."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ariadne import ObjectType, QueryType
from graphql import GraphQLResolveInfo

from adapters.catalog import EventInfo, SeatInfo
from adapters.seatmap_cache import SeatMap
from api.context import ctx
from api.errors import bad_input, not_found
from api.metrics import SEATMAP_READS, SEATMAP_RENDER_STEP
from api.resolvers.common import uuid_arg
from api.services import Services, run_sync
from domain.model import EventStatus

query = QueryType()
event_type = ObjectType("Event")

MAX_EVENTS = 100


@query.field("events")
async def resolve_events(
    _: Any, info: GraphQLResolveInfo, limit: int | None = None, status: str | None = None
) -> list[EventInfo]:
    if limit is None:
        limit = 20
    if not 1 <= limit <= MAX_EVENTS:
        raise bad_input(f"limit must be between 1 and {MAX_EVENTS}", field="limit")
    return await run_sync(ctx(info).services.catalog.list_events, limit, status)


@query.field("event")
async def resolve_event(_: Any, info: GraphQLResolveInfo, id: str) -> EventInfo | None:
    event_id = uuid_arg(id, "id")
    return await run_sync(ctx(info).services.catalog.get_event, event_id)


@query.field("availableSeats")
async def resolve_available_seats(
    _: Any, info: GraphQLResolveInfo, event_id: str
) -> tuple[SeatInfo, ...]:
    return await available_seats(ctx(info).services, event_id)


async def available_seats(services: Services, event_id: str) -> tuple[SeatInfo, ...]:
    """The seat map's rows."""
    event_id = uuid_arg(event_id, "eventId")

    def read() -> SeatMap | None:
        # One thread hop for both: on a busy event loop each hop's return waits for a turn.
        if services.catalog.get_event(event_id) is None:
            return None
        return services.seatmap.get(event_id)

    with SEATMAP_RENDER_STEP.labels("rows").time():
        seat_map = await run_sync(read)
    if seat_map is None:
        raise not_found("event")
    SEATMAP_READS.labels(seat_map.source).inc()
    return seat_map.seats


async def _available_count(info: GraphQLResolveInfo, event: EventInfo) -> int:
    # events { availableSeats canPurchaseTickets } asks twice per event: count once.
    memo: dict[str, int] = ctx(info).extras.setdefault("available_counts", {})
    if event.id not in memo:
        count, source = await run_sync(ctx(info).services.seatmap.available_count, event.id)
        SEATMAP_READS.labels(source).inc()
        memo[event.id] = count
    return memo[event.id]


@event_type.field("availableSeats")
async def resolve_event_available(event: EventInfo, info: GraphQLResolveInfo) -> int:
    return await _available_count(info, event)


@event_type.field("canPurchaseTickets")
async def resolve_can_purchase(event: EventInfo, info: GraphQLResolveInfo) -> bool:
    if event.status != EventStatus.ON_SALE.value or event.event_date <= datetime.now(UTC):
        return False
    return await _available_count(info, event) > 0


@event_type.field("priceFrom")
async def resolve_price_from(event: EventInfo, info: GraphQLResolveInfo) -> Decimal:
    # Asked only by listings: one small aggregate per event, off the seat map's path.
    price = await run_sync(ctx(info).services.catalog.price_from, event.id)
    return event.base_price if price is None else price


@event_type.field("maxSeatsPerCheckout")
def resolve_max_seats(_: EventInfo, info: GraphQLResolveInfo) -> int:
    return ctx(info).services.settings.max_seats_per_checkout


BINDABLES = [query, event_type]
