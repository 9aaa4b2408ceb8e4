"""Events with a real seat map for the browser tests, written straight to PostgreSQL (the
organizer mutations and their lifecycle workflow are tested elsewhere; here only the page is)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from adapters.organizer_store import seat_rows
from adapters.orm import Event, EventSeat, Seat, Venue
from devstack.seed import VENUES, venue_layout
from domain.venue_layout import RowSpec, SectionSpec, VenueSpec, lay_out


@dataclass(frozen=True)
class MappedEvent:
    id: str
    name: str
    seats: dict[str, str]  # "FLOOR row A seat 12" -> seat id


def small_venue() -> VenueSpec:
    """Two sections of a few rows: quick to draw, easy to point at."""
    rows = (
        RowSpec("A", 8, "VIP", Decimal("2.000")),
        RowSpec("B", 8, "PREMIUM", Decimal("1.500")),
        RowSpec("C", 8),
    )
    return VenueSpec(
        "Little Hall",
        "3 Test Lane",
        (SectionSpec("FLOOR", rows), SectionSpec("BALCONY", rows[1:])),
    )


def arena() -> VenueSpec:
    """The demo's Harbor Arena layout: 5,100 seats in 17 sections."""
    return venue_layout(VENUES[0])


def mapped_event(
    engine: Engine,
    spec: VenueSpec,
    base_price: Decimal = Decimal("48.00"),
    organizer_id: str | None = None,
) -> MappedEvent:
    layout = lay_out(spec)
    venue_id, event_id = uuid.uuid4(), uuid.uuid4()
    rows = seat_rows(venue_id, layout)
    name = f"Browser test {event_id.hex[:6]}"
    owner = uuid.UUID(organizer_id) if organizer_id else None
    with engine.begin() as conn:
        conn.execute(
            insert(Venue).values(
                id=venue_id,
                name=f"{spec.name} {venue_id.hex[:6]}",
                address=spec.address,
                total_capacity=len(rows),
                width=layout.width,
                height=layout.height,
                owner_id=owner,
            )
        )
        conn.execute(insert(Seat), rows)
        conn.execute(
            insert(Event).values(
                id=event_id,
                venue_id=venue_id,
                name=name,
                event_date=datetime.now(UTC) + timedelta(days=20),
                status="ON_SALE",
                base_price=base_price,
                currency="USD",
                max_capacity=len(rows),
                organizer_id=owner,
            )
        )
        conn.execute(insert(EventSeat), [{"event_id": event_id, "seat_id": r["id"]} for r in rows])
    seats = {f"{r['section']} row {r['row']} seat {r['number']}": str(r["id"]) for r in rows}
    return MappedEvent(str(event_id), name, seats)
