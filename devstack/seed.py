"""Demo data for `make dev` / `make seed`: venues, seats, events, inventory, two users.

Idempotent: every id is a uuid5 of a readable key and every insert is ``ON CONFLICT DO
NOTHING``, so loading twice (or into a database that already has it) adds nothing. Seats are
built in Python (a few thousand rows, multi-row inserts); each event's inventory is copied from
its venue's seats inside PostgreSQL (``INSERT ... SELECT``), which is what keeps this fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.dialects.postgresql import insert

from adapters.orm import BookingRow, BookingSeat, Event, EventSeat, Seat, User, Venue
from api.auth import hash_password

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ticket-booking-saga.example/demo")
DEMO_PASSWORD = "demo-password-1"
CENT = Decimal("0.01")


def demo_id(kind: str, *parts: object) -> uuid.UUID:
    """The stable id of one demo row (the same on every machine and every run)."""
    return uuid.uuid5(NAMESPACE, ":".join([kind, *map(str, parts)]))


@dataclass(frozen=True)
class Block:
    """Rows ``rows`` of each section in ``sections``, ``seats_per_row`` seats each."""

    sections: tuple[str, ...]
    rows: str
    seats_per_row: int
    seat_type: str
    modifier: Decimal
    premium_rows: str = ""  # these rows are PREMIUM (x1.5) whatever the block's type
    accessible_seats: int = 0  # the first N seats of the block's last row are ACCESSIBLE


@dataclass(frozen=True)
class DemoVenue:
    key: str
    name: str
    address: str
    blocks: tuple[Block, ...]

    @property
    def id(self) -> uuid.UUID:
        return demo_id("venue", self.key)


@dataclass(frozen=True)
class DemoEvent:
    key: str
    venue: str
    name: str
    description: str
    days_from_now: int
    status: str
    base_price: Decimal

    @property
    def id(self) -> uuid.UUID:
        return demo_id("event", self.key)


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str

    @property
    def id(self) -> uuid.UUID:
        return demo_id("user", self.email)


ROWS_15 = "ABCDEFGHJKLMNOP"  # no I: it reads as 1 on a ticket
VENUES = (
    DemoVenue(
        key="harbor-arena",
        name="Harbor Arena",
        address="1 Pier Road, Bayport",
        blocks=(
            Block(("FLOOR",), "ABCDEFGHJK", 30, "VIP", Decimal("2.500")),
            Block(
                tuple(f"LOWER-{n}" for n in range(101, 109)),
                ROWS_15,
                20,
                "REGULAR",
                Decimal("1.000"),
                premium_rows="ABC",
                accessible_seats=4,
            ),
            Block(
                tuple(f"UPPER-{n}" for n in range(201, 209)),
                ROWS_15,
                20,
                "REGULAR",
                Decimal("0.750"),
            ),
        ),
    ),
    DemoVenue(
        key="riverside-theater",
        name="Riverside Theater",
        address="42 Embankment, Old Town",
        blocks=(
            Block(
                ("ORCHESTRA",),
                "ABCDEFGHJKLMNOPQRSTU",
                30,
                "REGULAR",
                Decimal("1.000"),
                premium_rows="ABCDE",
                accessible_seats=6,
            ),
            Block(("MEZZANINE",), "ABCDEFGHJK", 30, "PREMIUM", Decimal("1.250")),
            Block(("BALCONY",), "ABCDEFGHJK", 30, "REGULAR", Decimal("0.800")),
        ),
    ),
    DemoVenue(
        key="blue-room",
        name="The Blue Room",
        address="7 Cellar Lane, Midtown",
        blocks=(
            Block(("TABLES",), "AB", 10, "VIP", Decimal("1.800")),
            Block(("MAIN",), "ABCDEFGH", 12, "REGULAR", Decimal("1.000"), accessible_seats=2),
        ),
    ),
)

FLASH_SALE_EVENT = "midnight-comets"
EVENTS = (
    DemoEvent(
        FLASH_SALE_EVENT,
        "harbor-arena",
        "The Midnight Comets: Reunion Tour",
        "The flash-sale event: every seat of the arena goes on sale at once.",
        30,
        "ON_SALE",
        Decimal("89.00"),
    ),
    DemoEvent(
        "beethoven-9",
        "riverside-theater",
        "Riverside Symphony: Beethoven 9",
        "The full choral symphony.",
        45,
        "ON_SALE",
        Decimal("55.00"),
    ),
    DemoEvent(
        "late-jazz",
        "blue-room",
        "Late Night Jazz Trio",
        "Sold out weeks ago.",
        12,
        "SOLD_OUT",
        Decimal("35.00"),
    ),
    DemoEvent(
        "winter-gala",
        "riverside-theater",
        "Winter Gala (announced soon)",
        "Programme to be confirmed: not on sale yet.",
        120,
        "DRAFT",
        Decimal("120.00"),
    ),
    DemoEvent(
        "open-air",
        "harbor-arena",
        "Open Air Festival",
        "Cancelled by the organiser.",
        60,
        "CANCELLED",
        Decimal("65.00"),
    ),
    DemoEvent(
        "spring-quartet",
        "blue-room",
        "Spring String Quartet",
        "Already happened.",
        -30,
        "COMPLETED",
        Decimal("30.00"),
    ),
)

USERS = (
    DemoUser("alice@example.com", "Alice", "Archer"),
    DemoUser("bob@example.com", "Bob", "Baker"),
)

# Events that already have confirmed bookings, and how many seats each booking holds.
BOOKED_EVENTS = {"late-jazz": 4, "spring-quartet": 6}


def seat_rows(venue: DemoVenue) -> Iterator[dict[str, Any]]:
    for block in venue.blocks:
        for section in block.sections:
            for row in block.rows:
                for number in range(1, block.seats_per_row + 1):
                    seat_type, modifier = block.seat_type, block.modifier
                    if row in block.premium_rows:
                        seat_type, modifier = "PREMIUM", Decimal("1.500")
                    if row == block.rows[-1] and number <= block.accessible_seats:
                        seat_type = "ACCESSIBLE"
                    yield {
                        "id": demo_id("seat", venue.key, section, row, number),
                        "venue_id": venue.id,
                        "section": section,
                        "row": row,
                        "number": number,
                        "type": seat_type,
                        "price_modifier": modifier,
                    }


def _event_date(days_from_now: int) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days_from_now)
    return datetime.combine(day, time(19, 30), tzinfo=UTC)


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        # executemany of one INSERT: SQLAlchemy batches it into multi-row VALUES statements
        conn.execute(insert(table).on_conflict_do_nothing(), rows)


def _users(conn: Connection) -> list[dict[str, Any]]:
    present = set(conn.execute(select(User.id).where(User.id.in_([u.id for u in USERS]))).scalars())
    missing = [u for u in USERS if u.id not in present]
    return [
        {
            "id": u.id,
            "email": u.email.lower(),
            "first_name": u.first_name,
            "last_name": u.last_name,
            "password_hash": hash_password(DEMO_PASSWORD),  # slow on purpose: new users only
        }
        for u in missing
    ]


def _bookings(
    seats_by_venue: dict[str, list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Confirmed bookings for the past and sold-out events, so their inventory is BOOKED."""
    bookings: list[dict[str, Any]] = []
    booking_seats: list[dict[str, Any]] = []
    event_seats: list[dict[str, Any]] = []
    for event in EVENTS:
        per_booking = BOOKED_EVENTS.get(event.key)
        if per_booking is None:
            continue
        seats = seats_by_venue[event.venue]
        if event.status != "SOLD_OUT":
            seats = seats[: per_booking * 2]  # a couple of bookings, not the whole house
        for n, start in enumerate(range(0, len(seats), per_booking), start=1):
            group = seats[start : start + per_booking]
            booking_id = demo_id("booking", event.key, n)
            prices = [(event.base_price * s["price_modifier"]).quantize(CENT) for s in group]
            bookings.append(
                {
                    "id": booking_id,
                    "reference": f"DEMO-{event.key[:6].upper()}-{n:03d}",
                    "checkout_id": demo_id("checkout", event.key, n),
                    "user_id": USERS[n % len(USERS)].id,
                    "event_id": event.id,
                    "total_price": sum(prices, Decimal("0.00")),
                    "currency": "USD",
                    "status": "CONFIRMED",
                    "payment_intent_id": None,
                }
            )
            for seat, price in zip(group, prices, strict=True):
                key = {"event_id": event.id, "seat_id": seat["id"]}
                booking_seats.append({**key, "booking_id": booking_id, "price": price})
                event_seats.append({**key, "status": "BOOKED", "booking_id": booking_id})
    return bookings, booking_seats, event_seats


def load_demo_data(engine: Engine) -> dict[str, int]:
    """Loads the demo data (idempotent) and returns how many demo rows each table now holds."""
    seats_by_venue = {venue.key: list(seat_rows(venue)) for venue in VENUES}
    venue_ids = {venue.key: venue.id for venue in VENUES}
    bookings, booking_seats, booked_inventory = _bookings(seats_by_venue)
    with engine.begin() as conn:
        _insert(
            conn,
            Venue.__table__,
            [
                {
                    "id": v.id,
                    "name": v.name,
                    "address": v.address,
                    "total_capacity": len(seats_by_venue[v.key]),
                }
                for v in VENUES
            ],
        )
        _insert(conn, Seat.__table__, [s for seats in seats_by_venue.values() for s in seats])
        _insert(
            conn,
            Event.__table__,
            [
                {
                    "id": e.id,
                    "venue_id": venue_ids[e.venue],
                    "name": e.name,
                    "description": e.description,
                    "event_date": _event_date(e.days_from_now),
                    "status": e.status,
                    "base_price": e.base_price,
                    "currency": "USD",
                    "max_capacity": len(seats_by_venue[e.venue]),
                }
                for e in EVENTS
            ],
        )
        _insert(conn, User.__table__, _users(conn))
        _insert(conn, BookingRow.__table__, bookings)
        _insert(conn, BookingSeat.__table__, booking_seats)
        _insert(conn, EventSeat.__table__, booked_inventory)
        for event in EVENTS:
            # the rest of the house: AVAILABLE, copied from the venue's seats by the server
            conn.execute(
                text(
                    "INSERT INTO event_seats (event_id, seat_id) "
                    "SELECT :event_id, id FROM seats WHERE venue_id = :venue_id "
                    "ON CONFLICT DO NOTHING"
                ),
                {"event_id": event.id, "venue_id": venue_ids[event.venue]},
            )
        return demo_counts(conn)


def demo_counts(conn: Connection) -> dict[str, int]:
    venue_ids = [v.id for v in VENUES]
    event_ids = [e.id for e in EVENTS]

    def count(table: Any, column: Any, ids: list[uuid.UUID]) -> int:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(column.in_(ids))
            ).scalar_one()
        )

    return {
        "venues": count(Venue, Venue.id, venue_ids),
        "seats": count(Seat, Seat.venue_id, venue_ids),
        "events": count(Event, Event.id, event_ids),
        "event_seats": count(EventSeat, EventSeat.event_id, event_ids),
        "users": count(User, User.id, [u.id for u in USERS]),
        "bookings": count(BookingRow, BookingRow.event_id, event_ids),
        "booking_seats": count(BookingSeat, BookingSeat.event_id, event_ids),
    }


def banner_lines() -> list[str]:
    """What `make dev` prints about the demo data: ids to paste into GraphQL queries."""
    venues = {v.key: v.name for v in VENUES}
    lines = [
        f"  {e.status:<9} {e.id}  {e.name} @ {venues[e.venue]}"
        + ("   <- the flash-sale event" if e.key == FLASH_SALE_EVENT else "")
        for e in EVENTS
    ]
    lines += [f"  user      {u.id}  {u.email} / {DEMO_PASSWORD}" for u in USERS]
    return lines
