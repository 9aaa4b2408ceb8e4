"""``bestAvailable`` (public): the best block of adjacent seats, read off the seat map.

The seats and their statuses are ``seatMap``'s own (``api/resolvers/reports.seat_plans``:
the same cache, version and staleness bound), so the block offered is what the buyer's map
shows as available; the choice is ``domain/best_available.py``. A seat held meanwhile is
refused by the hold as usual.
"""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from adapters.seat_plan import PlanSeat
from api.context import ctx
from api.errors import bad_input, not_found
from api.resolvers.common import uuid_arg
from api.resolvers.reports import seat_plans
from api.services import run_sync
from domain.best_available import best_block

query = QueryType()

MAX_SECTION_LENGTH = 50  # seats.section


@query.field("bestAvailable")
async def resolve_best_available(
    _: Any, info: GraphQLResolveInfo, event_id: str, count: int, section: str | None = None
) -> list[PlanSeat]:
    services = ctx(info).services
    event = uuid_arg(event_id, "eventId")
    most = services.settings.max_seats_per_checkout
    if not 1 <= count <= most:
        raise bad_input(f"count must be between 1 and {most}", field="count")
    if section is not None and len(section) > MAX_SECTION_LENGTH:
        raise bad_input("no such section", field="section")
    plan = await run_sync(seat_plans(services).get, event)
    if plan is None:
        raise not_found("event")
    # A few milliseconds of CPU on a 5,000-seat map: off the event loop with the read.
    return await run_sync(best_block, plan.seats, count, section)


BINDABLES: list[Any] = [query]
