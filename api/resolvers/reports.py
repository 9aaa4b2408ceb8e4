"""``seatMap`` (public) and ``salesReport`` (the event's organizer or an ADMIN).

Both read the live holds from the same place as ``availableSeats`` (the grants the saga
records beside the claims). The seat map is cached like ``availableSeats``
(``adapters/seat_plan.py``); the report is computed on every call, from two aggregate queries.
"""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from adapters.sales_report import PostgresSalesReports, SalesReport
from adapters.seat_plan import SeatPlan, SeatPlanCache
from api.context import Context, ctx
from api.errors import from_domain, not_found
from api.metrics import SEATMAP_READS
from api.resolvers.common import uuid_arg
from api.roles import managed_event
from api.services import Services, run_sync
from domain.errors import DomainError, ErrorCode

query = QueryType()


def seat_plans(services: Services) -> SeatPlanCache:
    """The seat plans on the services' connections (a few references: cheap per request)."""
    settings = services.settings
    return SeatPlanCache(
        services.redis,
        services.engine,
        services.seat_locks,
        settings.redis_prefix,
        settings.seatmap_max_staleness_ms,
    )


@query.field("seatMap")
async def resolve_seat_map(_: Any, info: GraphQLResolveInfo, event_id: str) -> SeatPlan:
    services = ctx(info).services
    event = uuid_arg(event_id, "eventId")
    plan = await run_sync(seat_plans(services).get, event)
    if plan is None:
        raise not_found("event")
    SEATMAP_READS.labels(f"plan_{plan.source}").inc()
    return plan


async def sales_report(context: Context, event_id: str) -> SalesReport:
    """The report, if the caller may read it.

    Raises:
        ApiError: UNAUTHENTICATED (no token), BAD_USER_INPUT (a malformed id).
        DomainError: FORBIDDEN (neither the event's organizer nor an ADMIN), NOT_FOUND.
    """
    event = uuid_arg(event_id, "eventId")
    await managed_event(context, event)
    services = context.services

    def read() -> SalesReport | None:
        # One thread hop for both reads; the holds first, as the seat map reads them.
        held = services.seat_locks.held_seat_ids(event)
        return PostgresSalesReports(services.engine).report(event, held)

    report = await run_sync(read)
    if report is None:  # deleted since the role check
        raise DomainError(ErrorCode.NOT_FOUND, "event not found")
    return report


@query.field("salesReport")
async def resolve_sales_report(_: Any, info: GraphQLResolveInfo, event_id: str) -> SalesReport:
    try:
        return await sales_report(ctx(info), event_id)
    except DomainError as exc:
        raise from_domain(exc) from None


BINDABLES: list[Any] = [query]
