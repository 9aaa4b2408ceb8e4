"""Demo data for `make dev` / `make seed`: venues, seats, events, inventory, buyers, staff.

Idempotent: every id is a uuid5 of a readable key and every insert is ``ON CONFLICT DO
NOTHING``, so loading twice (or into a database that already has it) adds nothing. Seats are
built in Python (a few thousand rows, multi-row inserts); each event's inventory is copied from
its venue's seats inside PostgreSQL (``INSERT ... SELECT``), which is what keeps this fast.

The venues and events belong to the demo organizer, and the seats get their map coordinates
from ``domain.venue_layout`` like an organizer's own venue. Those columns came after the first
demo data, so a database loaded before them has its demo rows brought up to date (owners and
coordinates only, and only where they differ: a second load still writes nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from adapters.orm import BookingRow, BookingSeat, Event, EventSeat, Seat, User, Venue
from api.auth import hash_password
from domain.model import Role
from domain.venue_layout import (
    MARGIN,
    ROW_PITCH,
    SECTION_GAP,
    RowSpec,
    SectionSpec,
    VenueSpec,
    lay_out,
)

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
    roles: tuple[str, ...] = (Role.BUYER.value,)

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

# The buyers (the demo bookings are theirs), then the staff.
USERS = (
    DemoUser("alice@example.com", "Alice", "Archer"),
    DemoUser("bob@example.com", "Bob", "Baker"),
)
ORGANIZER = DemoUser(
    "organizer@example.com", "Olivia", "Organizer", (Role.BUYER.value, Role.ORGANIZER.value)
)
ADMIN = DemoUser("admin@example.com", "Adam", "Admin", (Role.BUYER.value, Role.ADMIN.value))
STAFF = (ORGANIZER, ADMIN)

# Events that already have confirmed bookings, and how many seats each booking holds.
BOOKED_EVENTS = {"late-jazz": 4, "spring-quartet": 6}


def _row_kind(block: Block, row: str) -> tuple[str, Decimal]:
    if row in block.premium_rows:
        return "PREMIUM", Decimal("1.500")
    return block.seat_type, block.modifier


def venue_layout(venue: DemoVenue) -> VenueSpec:
    """The venue as an organizer would lay it out: each block is one tier of sections side
    by side, the tiers stacked from the stage back, each centred on the widest."""
    widths = [
        len(b.sections) * b.seats_per_row + (len(b.sections) - 1) * SECTION_GAP
        for b in venue.blocks
    ]
    sections, top = [], MARGIN
    for block, width in zip(venue.blocks, widths, strict=True):
        rows = tuple(
            RowSpec(row, block.seats_per_row, *_row_kind(block, row)) for row in block.rows
        )
        left = MARGIN + (max(widths) - width) / 2
        for n, name in enumerate(block.sections):
            x = left + n * (block.seats_per_row + SECTION_GAP)
            sections.append(SectionSpec(name, rows, x=x, y=top))
        top += (len(block.rows) - 1) * ROW_PITCH + 1 + SECTION_GAP
    return VenueSpec(venue.name, venue.address, tuple(sections))


def seat_rows(venue: DemoVenue) -> Iterator[dict[str, Any]]:
    placed = {(s.section, s.row, s.number): s for s in lay_out(venue_layout(venue)).seats}
    for block in venue.blocks:
        for section in block.sections:
            for row in block.rows:
                for number in range(1, block.seats_per_row + 1):
                    seat_type, modifier = _row_kind(block, row)
                    # A row has one type in a layout; the demo's wheelchair spaces are the
                    # first seats of a block's last row.
                    if row == block.rows[-1] and number <= block.accessible_seats:
                        seat_type = "ACCESSIBLE"
                    seat = placed[(section, row, number)]
                    yield {
                        "id": demo_id("seat", venue.key, section, row, number),
                        "venue_id": venue.id,
                        "section": section,
                        "row": row,
                        "number": number,
                        "type": seat_type,
                        "price_modifier": modifier,
                        "x": seat.x,
                        "y": seat.y,
                    }


def _event_date(days_from_now: int) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=days_from_now)
    return datetime.combine(day, time(19, 30), tzinfo=UTC)


def _insert(
    conn: Connection, table: Any, rows: list[dict[str, Any]], refresh: tuple[str, ...] = ()
) -> None:
    """Inserts the missing rows; existing ones get the ``refresh`` columns' values, and only
    where they differ, so loading twice still writes nothing."""
    if not rows:
        return
    statement = insert(table)
    if refresh:
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={c: statement.excluded[c] for c in refresh},
            where=or_(*(table.c[c].is_distinct_from(statement.excluded[c]) for c in refresh)),
        )
    else:
        statement = statement.on_conflict_do_nothing()
    # executemany of one INSERT: SQLAlchemy batches it into multi-row VALUES statements
    conn.execute(statement, rows)


def _users(conn: Connection) -> list[dict[str, Any]]:
    everyone = (*USERS, *STAFF)
    present = set(
        conn.execute(select(User.id).where(User.id.in_([u.id for u in everyone]))).scalars()
    )
    missing = [u for u in everyone if u.id not in present]
    return [
        {
            "id": u.id,
            "email": u.email.lower(),
            "first_name": u.first_name,
            "last_name": u.last_name,
            "password_hash": hash_password(DEMO_PASSWORD),  # slow on purpose: new users only
            "roles": list(u.roles),
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
    seats = [s for venue_seats in seats_by_venue.values() for s in venue_seats]
    venues = []
    for v in VENUES:
        layout = lay_out(venue_layout(v))
        venues.append(
            {
                "id": v.id,
                "owner_id": ORGANIZER.id,
                "name": v.name,
                "address": v.address,
                "total_capacity": len(seats_by_venue[v.key]),
                "width": layout.width,
                "height": layout.height,
            }
        )
    events = [
        {
            "id": e.id,
            "venue_id": venue_ids[e.venue],
            "organizer_id": ORGANIZER.id,
            "name": e.name,
            "description": e.description,
            "event_date": _event_date(e.days_from_now),
            "status": e.status,
            "base_price": e.base_price,
            "currency": "USD",
            "max_capacity": len(seats_by_venue[e.venue]),
        }
        for e in EVENTS
    ]
    with engine.begin() as conn:
        # Users first: the venues and events name their organizer.
        _insert(conn, User.__table__, _users(conn))
        _insert(conn, Venue.__table__, venues, refresh=("owner_id", "width", "height"))
        _insert(conn, Seat.__table__, seats, refresh=("x", "y"))
        _insert(conn, Event.__table__, events, refresh=("organizer_id",))
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
        "users": count(User, User.id, [u.id for u in (*USERS, *STAFF)]),
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
    lines += [f"  {u.roles[-1].lower():<9} {u.id}  {u.email} / {DEMO_PASSWORD}" for u in STAFF]
    return lines
