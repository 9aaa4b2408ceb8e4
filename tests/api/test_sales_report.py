"""``salesReport`` and its CSV: figures after real checkouts through the saga, access rules."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services import Services
from tests.api.conftest import data_of, error_codes
from tests.api.purchases import CANCEL_BOOKING, START, buy

pytestmark = pytest.mark.usefixtures("api_worker")

REPORT = """query($e: ID!) { salesReport(eventId: $e) {
  eventId capacity sold held blocked available grossRevenue refunded currency bookings
  sections { section capacity sold revenue } } }"""


def organized_by(engine: Engine, event_id: str, organizer_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET organizer_id = :o WHERE id = :e"),
            {"o": organizer_id, "e": event_id},
        )


def in_section(engine: Engine, seat_ids: list[str], section: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE seats SET section = :s WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"s": section, "ids": seat_ids},
        )


@pytest.fixture
async def sold_event(
    gql: Any, make_buyer: Any, event_factory: Any, engine: Engine, services: Services
) -> Any:
    """7 seats: A = 0 (VIP, 75.00), 1, 2; B = 3..6 (50.00 each). Seats 0 and 1 sold in one
    booking, 3 in another, 2 sold then refunded, 4 held, 5 blocked; 2 and 6 available."""
    event = event_factory(seats=7)
    seats = event.seat_ids
    in_section(engine, seats[3:], "B")
    await buy(gql, make_buyer(), event.id, seats[0:2])
    await buy(gql, make_buyer(), event.id, seats[3:4])
    refunder = make_buyer()
    reference = await buy(gql, refunder, event.id, seats[2:3])
    cancelled = data_of(await gql(CANCEL_BOOKING, {"r": reference}, refunder))["cancelBooking"]
    assert cancelled["booking"]["status"] == "REFUNDED"
    held = data_of(await gql(START, {"e": event.id, "s": seats[4:5]}, make_buyer()))
    assert held["startCheckout"]["success"]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE event_seats SET status = 'BLOCKED' WHERE event_id = :e AND seat_id = :s"),
            {"e": event.id, "s": seats[5]},
        )
    return event


async def test_the_figures_after_real_checkouts(
    gql: Any, make_organizer: Any, engine: Engine, sold_event: Any
) -> None:
    organizer = make_organizer()
    organized_by(engine, sold_event.id, organizer.id)

    report = data_of(await gql(REPORT, {"e": sold_event.id}, organizer))["salesReport"]

    assert report == {
        "eventId": sold_event.id,
        "capacity": 7,
        "sold": 3,
        "held": 1,
        "blocked": 1,
        "available": 2,
        "grossRevenue": "175.00",
        "refunded": "50.00",
        "currency": "USD",
        "bookings": 2,
        "sections": [
            {"section": "A", "capacity": 3, "sold": 2, "revenue": "125.00"},
            {"section": "B", "capacity": 4, "sold": 1, "revenue": "50.00"},
        ],
    }


async def test_only_the_organizer_or_an_admin_reads_it(
    gql: Any,
    make_organizer: Any,
    make_admin: Any,
    make_buyer: Any,
    engine: Engine,
    event_factory: Any,
) -> None:
    event = event_factory(seats=2)
    owner = make_organizer()
    organized_by(engine, event.id, owner.id)

    assert data_of(await gql(REPORT, {"e": event.id}, owner))["salesReport"]["capacity"] == 2
    assert data_of(await gql(REPORT, {"e": event.id}, make_admin()))["salesReport"]["sold"] == 0
    assert error_codes(await gql(REPORT, {"e": event.id}, make_organizer())) == ["FORBIDDEN"]
    assert error_codes(await gql(REPORT, {"e": event.id}, make_buyer())) == ["FORBIDDEN"]
    assert error_codes(await gql(REPORT, {"e": event.id})) == ["UNAUTHENTICATED"]
    missing = "00000000-0000-4000-8000-000000000000"
    assert error_codes(await gql(REPORT, {"e": missing}, make_admin())) == ["NOT_FOUND"]


async def test_the_figures_add_up_during_a_running_sale(
    gql: Any, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    """Reports taken while checkouts pay: every one is a consistent snapshot."""
    event = event_factory(seats=12)
    admin = make_admin()
    sale = asyncio.gather(*(buy(gql, make_buyer(), event.id, [s]) for s in event.seat_ids[1:]))
    reports = []
    while not sale.done():
        reports.append(data_of(await gql(REPORT, {"e": event.id}, admin))["salesReport"])
        await asyncio.sleep(0.02)
    await sale
    reports.append(data_of(await gql(REPORT, {"e": event.id}, admin))["salesReport"])
    for report in reports:
        assert report["sold"] == report["bookings"]  # one seat per booking here
        assert report["grossRevenue"] == f"{report['sold'] * 50}.00"
        assert report["capacity"] == 12 == report["sold"] + report["held"] + report["available"]
    assert reports[-1]["sold"] == 11 and reports[-1]["available"] == 1


async def test_the_csv_export(
    http: httpx.AsyncClient, make_organizer: Any, engine: Engine, sold_event: Any
) -> None:
    organizer = make_organizer()
    organized_by(engine, sold_event.id, organizer.id)
    url = f"/reports/{sold_event.id}/sales.csv"

    response = await http.get(url, headers=organizer.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["section", "capacity", "sold", "held", "blocked", "available", "revenue", "currency"],
        ["A", "3", "2", "", "", "", "125.00", "USD"],
        ["B", "4", "1", "", "", "", "50.00", "USD"],
        ["TOTAL", "7", "3", "1", "1", "2", "175.00", "USD"],
    ]
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers=make_organizer().headers)).status_code == 403
    missing = "/reports/00000000-0000-4000-8000-000000000000/sales.csv"
    assert (await http.get(missing, headers=organizer.headers)).status_code == 404
