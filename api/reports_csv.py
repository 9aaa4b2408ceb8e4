"""``GET /reports/{eventId}/sales.csv``: the sales report as CSV, for spreadsheets.

The same report and access rule as the ``salesReport`` query (bearer token; the event's
organizer or an ADMIN): one row per section, then a total row with the event's figures.
"""

from __future__ import annotations

import csv
import io
from http import HTTPStatus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from adapters.sales_report import SalesReport
from api.context import build_context
from api.errors import FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, ApiError, from_domain
from api.resolvers.reports import sales_report
from domain.errors import DomainError

router = APIRouter()

COLUMNS = ("section", "capacity", "sold", "held", "blocked", "available", "revenue", "currency")
_STATUS = {
    UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    FORBIDDEN: HTTPStatus.FORBIDDEN,
    NOT_FOUND: HTTPStatus.NOT_FOUND,
}


def to_csv(report: SalesReport) -> str:
    """Sections carry capacity, sold and revenue (the report has no per-section holds); the
    total row carries every figure, its revenue the CONFIRMED bookings' gross."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for section in report.sections:
        writer.writerow(
            (
                section.section,
                section.capacity,
                section.sold,
                "",
                "",
                "",
                section.revenue,
                report.currency,
            )
        )
    writer.writerow(
        (
            "TOTAL",
            report.capacity,
            report.sold,
            report.held,
            report.blocked,
            report.available,
            report.gross_revenue,
            report.currency,
        )
    )
    return out.getvalue()


@router.get("/reports/{event_id}/sales.csv")
async def sales_csv(event_id: str, request: Request) -> Response:
    services = request.app.state.services
    try:
        context = build_context(services, request)
        report = await sales_report(context, event_id)
    except DomainError as exc:
        return _refused(from_domain(exc))
    except ApiError as exc:
        return _refused(exc)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="sales-{event_id}.csv"'},
    )


def _refused(error: ApiError) -> Response:
    code = (error.extensions or {}).get("code", "")
    status = _STATUS.get(code, HTTPStatus.BAD_REQUEST)
    return JSONResponse({"error": {"code": code, "message": error.message}}, status_code=status)
