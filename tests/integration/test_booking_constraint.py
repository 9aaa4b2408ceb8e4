"""Invariant 1 lives in PostgreSQL: raw SQL cannot book one (event, seat) twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError


def insert(conn: Connection, table: str, **row: Any) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def new_booking(conn: Connection, user_id: uuid.UUID, event_id: uuid.UUID) -> uuid.UUID:
    booking_id = uuid.uuid4()
    insert(
        conn,
        "bookings",
        id=booking_id,
        reference=booking_id.hex[:12].upper(),
        checkout_id=uuid.uuid4(),
        user_id=user_id,
        event_id=event_id,
        total_price="50.00",
        currency="USD",
        status="CONFIRMED",
    )
    return booking_id


@pytest.fixture
def event_and_seat(engine: Engine) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ("venue", "seat", "event", "user")}
    tag = ids["venue"].hex
    with engine.begin() as conn:
        insert(conn, "venues", id=ids["venue"], name=f"v-{tag}", address="x", total_capacity=1)
        insert(conn, "seats", id=ids["seat"], venue_id=ids["venue"], section="A", row="1", number=1)
        insert(
            conn,
            "events",
            id=ids["event"],
            venue_id=ids["venue"],
            name="e",
            event_date="2030-01-01T20:00:00Z",
            status="ON_SALE",
            base_price="50.00",
            max_capacity=1,
        )
        insert(
            conn,
            "users",
            id=ids["user"],
            email=f"{tag}@example.com",
            first_name="A",
            last_name="B",
            password_hash="x",
        )
    return ids


def book_seat(conn: Connection, ids: dict[str, uuid.UUID]) -> uuid.UUID:
    booking_id = new_booking(conn, ids["user"], ids["event"])
    insert(
        conn,
        "booking_seats",
        booking_id=booking_id,
        seat_id=ids["seat"],
        event_id=ids["event"],
        price="50.00",
    )
    return booking_id


def test_a_second_active_booking_of_one_seat_is_refused(
    engine: Engine, event_and_seat: dict[str, uuid.UUID]
) -> None:
    with engine.begin() as conn:
        book_seat(conn, event_and_seat)

    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        book_seat(conn, event_and_seat)
    assert "uq_booking_seats_active_event_seat" in str(refused.value)

    with engine.connect() as conn:
        active = conn.execute(
            text(
                "SELECT count(*) FROM booking_seats "
                "WHERE event_id = :e AND seat_id = :s AND released_at IS NULL"
            ),
            {"e": event_and_seat["event"], "s": event_and_seat["seat"]},
        ).scalar_one()
    assert active == 1


def test_a_released_seat_can_be_booked_again(
    engine: Engine, event_and_seat: dict[str, uuid.UUID]
) -> None:
    """The index is partial: a cancelled booking gives the seat back."""
    with engine.begin() as conn:
        first = book_seat(conn, event_and_seat)
        conn.execute(
            text("UPDATE booking_seats SET released_at = now() WHERE booking_id = :b"),
            {"b": first},
        )
        conn.execute(text("UPDATE bookings SET status = 'CANCELLED' WHERE id = :b"), {"b": first})
    with engine.begin() as conn:
        book_seat(conn, event_and_seat)


def test_a_booked_event_seat_needs_its_booking(
    engine: Engine, event_and_seat: dict[str, uuid.UUID]
) -> None:
    with pytest.raises(IntegrityError, match="booked_has_booking"), engine.begin() as conn:
        insert(
            conn,
            "event_seats",
            event_id=event_and_seat["event"],
            seat_id=event_and_seat["seat"],
            status="BOOKED",
        )
