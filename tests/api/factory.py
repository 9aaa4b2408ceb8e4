"""Test data for the API tests: each call makes its own venue, seats and event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select

from adapters.orm import BookingRow, Event, EventSeat, Seat, User, Venue


@dataclass(frozen=True)
class TestEvent:
    id: str
    seat_ids: list[str]  # in seat-map order


def make_event(
    engine: Engine,
    seats: int = 4,
    status: str = "ON_SALE",
    base_price: Decimal = Decimal("50.00"),
    days_ahead: int = 30,
) -> TestEvent:
    venue_id, event_id = uuid.uuid4(), uuid.uuid4()
    seat_rows = [
        {
            "id": uuid.uuid4(),
            "venue_id": venue_id,
            "section": "A",
            "row": f"{n // 100:03d}",
            "number": n % 100 + 1,
            "type": "VIP" if n == 0 else "REGULAR",
            "price_modifier": Decimal("1.500") if n == 0 else Decimal("1.000"),
        }
        for n in range(seats)
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(Venue).values(
                id=venue_id,
                name=f"Venue {venue_id}",
                address="1 Test Street",
                total_capacity=seats,
            )
        )
        if seat_rows:
            conn.execute(insert(Seat), seat_rows)
        conn.execute(
            insert(Event).values(
                id=event_id,
                venue_id=venue_id,
                name=f"Event {event_id.hex[:8]}",
                event_date=datetime.now(UTC) + timedelta(days=days_ahead),
                status=status,
                base_price=base_price,
                currency="USD",
                max_capacity=seats,
            )
        )
        if seat_rows:
            conn.execute(
                insert(EventSeat),
                [{"event_id": event_id, "seat_id": r["id"]} for r in seat_rows],
            )
    return TestEvent(str(event_id), [str(r["id"]) for r in seat_rows])


def row_counts(engine: Engine) -> dict[str, int]:
    """Counts and the booked-seat total: "changes nothing" is compared on these."""
    with engine.connect() as conn:
        return {
            "users": conn.execute(select(func.count()).select_from(User)).scalar_one(),
            "bookings": conn.execute(select(func.count()).select_from(BookingRow)).scalar_one(),
            "booked_seats": conn.execute(
                select(func.count()).select_from(EventSeat).where(EventSeat.status == "BOOKED")
            ).scalar_one(),
        }
