"""The demo data: what `make dev` promises, loaded twice without a single duplicate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text

from adapters.db import make_engine
from adapters.migrate import upgrade
from devstack.databases import create_database, drop_database
from devstack.seed import DEMO_PASSWORD, FLASH_SALE_EVENT, demo_id, load_demo_data
from devstack.services import Stack

TABLES = ("venues", "seats", "events", "event_seats", "users", "bookings", "booking_seats")


@pytest.fixture(scope="module")
def seeded(stack: Stack, run_id: str) -> Iterator[tuple[Engine, dict[str, int], dict[str, int]]]:
    """A migrated scratch database with the demo data loaded twice: (engine, first, second)."""
    name = f"tb_seed_{run_id}_{uuid.uuid4().hex[:6]}"
    url = create_database(stack.database_url, name)
    engine = make_engine(url, pool_size=2, max_overflow=0)
    try:
        upgrade(url)
        first = load_demo_data(engine)
        before, versions = table_counts(engine), row_versions(engine)
        second = load_demo_data(engine)
        assert table_counts(engine) == before
        # not a row rewritten either: the refreshed columns (owners, coordinates) already fit
        assert row_versions(engine) == versions
        yield engine, first, second
    finally:
        engine.dispose()
        drop_database(stack.database_url, name)


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def row_versions(engine: Engine) -> dict[str, str]:
    """Each table's row versions (xmin): any UPDATE of a row changes them."""
    with engine.connect() as conn:
        return {
            t: conn.execute(
                text(f"SELECT md5(string_agg(xmin::text, ',' ORDER BY ctid)) FROM {t}")
            ).scalar_one()
            for t in TABLES
        }


def rows(engine: Engine, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_loading_twice_adds_nothing(seeded: tuple[Engine, dict[str, int], dict[str, int]]) -> None:
    engine, first, second = seeded
    assert first == second
    # the counts it reports are the rows really there (scratch database: nothing else)
    assert first == table_counts(engine)


def test_venues_and_the_big_one(seeded: tuple[Engine, dict[str, int], dict[str, int]]) -> None:
    engine, counts, _ = seeded
    assert counts["venues"] >= 3
    sizes = rows(
        engine,
        "SELECT v.total_capacity, count(s.id), count(DISTINCT s.section), "
        "count(DISTINCT (s.section, s.row)) "
        "FROM venues v JOIN seats s ON s.venue_id = v.id GROUP BY v.id",
    )
    assert all(capacity == seats for capacity, seats, _, _ in sizes)
    big = max(sizes, key=lambda r: r[1])
    assert big[1] >= 5000
    assert big[2] >= 3 and big[3] >= 50  # sections and rows, not one long line


def test_seat_types_and_price_modifiers(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _, _ = seeded
    modifiers = dict(
        rows(engine, "SELECT type, array_agg(DISTINCT price_modifier) FROM seats GROUP BY type")
    )
    assert set(modifiers) == {"REGULAR", "PREMIUM", "VIP", "ACCESSIBLE"}
    values = [m for ms in modifiers.values() for m in ms]
    assert all(isinstance(m, Decimal) for m in values)
    assert len(set(values)) >= 3
    assert max(modifiers["VIP"]) > max(modifiers["REGULAR"])


def test_events_in_every_status_with_their_inventory(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, counts, _ = seeded
    assert counts["events"] >= 5
    events = rows(
        engine,
        "SELECT e.id, e.status, e.max_capacity, "
        "(SELECT count(*) FROM seats s WHERE s.venue_id = e.venue_id), "
        "(SELECT count(*) FROM event_seats es WHERE es.event_id = e.id) "
        "FROM events e",
    )
    assert {status for _, status, *_ in events} >= {
        "DRAFT",
        "ON_SALE",
        "SOLD_OUT",
        "CANCELLED",
        "COMPLETED",
    }
    for _, _, capacity, venue_seats, inventory in events:
        assert capacity == venue_seats == inventory  # one inventory row per seat of the venue
    on_sale = {
        event_id: inventory for event_id, status, *_, inventory in events if status == "ON_SALE"
    }
    assert len([n for n in on_sale.values() if n >= 1000]) >= 2
    assert on_sale[demo_id("event", FLASH_SALE_EVENT)] >= 5000


def test_on_sale_events_are_open_and_the_sold_out_one_is_booked(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _, _ = seeded
    by_status = dict(
        rows(
            engine,
            "SELECT e.status, array_agg(DISTINCT es.status) FROM events e "
            "JOIN event_seats es ON es.event_id = e.id GROUP BY e.status",
        )
    )
    assert by_status["ON_SALE"] == ["AVAILABLE"]
    assert by_status["SOLD_OUT"] == ["BOOKED"]
    # every BOOKED seat belongs to a confirmed booking whose seats add up to its total
    mismatched = rows(
        engine,
        "SELECT b.id FROM bookings b JOIN booking_seats bs ON bs.booking_id = b.id "
        "GROUP BY b.id, b.total_price HAVING sum(bs.price) <> b.total_price",
    )
    assert mismatched == []
    orphans = rows(
        engine,
        "SELECT 1 FROM event_seats es LEFT JOIN booking_seats bs ON bs.booking_id = es.booking_id "
        "AND bs.seat_id = es.seat_id WHERE es.status = 'BOOKED' AND bs.booking_id IS NULL",
    )
    assert orphans == []


def test_the_demo_users_can_log_in(seeded: tuple[Engine, dict[str, int], dict[str, int]]) -> None:
    engine, counts, _ = seeded
    assert counts["users"] == 4
    users = {
        email: (h, roles)
        for email, h, roles in rows(engine, "SELECT email, password_hash, roles FROM users")
    }
    assert {email: sorted(roles) for email, (_, roles) in users.items()} == {
        "alice@example.com": ["BUYER"],
        "bob@example.com": ["BUYER"],
        "organizer@example.com": ["BUYER", "ORGANIZER"],
        "admin@example.com": ["ADMIN", "BUYER"],
    }
    hasher = PasswordHasher()
    for password_hash, _ in users.values():
        assert password_hash.startswith("$argon2")
        assert hasher.verify(password_hash, DEMO_PASSWORD)


def test_the_demo_organizer_owns_every_venue_and_event_and_no_booking(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _, _ = seeded
    owners = rows(
        engine,
        "SELECT DISTINCT u.email FROM venues v LEFT JOIN users u ON u.id = v.owner_id "
        "UNION SELECT DISTINCT u.email FROM events e LEFT JOIN users u ON u.id = e.organizer_id",
    )
    assert owners == [("organizer@example.com",)]
    buyers = rows(
        engine, "SELECT DISTINCT u.email FROM bookings b JOIN users u ON u.id = b.user_id"
    )
    assert {email for (email,) in buyers} <= {"alice@example.com", "bob@example.com"}


def test_every_demo_seat_has_its_own_spot_on_the_venues_map(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _, _ = seeded
    venues = rows(
        engine,
        "SELECT v.name, v.width, v.height, count(*), count(DISTINCT (s.x, s.y)), "
        "bool_and(s.x > 0 AND s.x < v.width AND s.y > 0 AND s.y < v.height) "
        "FROM venues v JOIN seats s ON s.venue_id = v.id GROUP BY v.id",
    )
    assert len(venues) == 3
    for name, width, height, seats, spots, inside in venues:
        assert width > 0 and height > 0, name
        assert spots == seats, name
        assert inside, name
    # rows in order from the stage back: row A of a section is in front of its row B
    fronts = rows(
        engine,
        "SELECT a.y < b.y FROM seats a JOIN seats b ON a.venue_id = b.venue_id "
        "AND a.section = b.section AND a.number = b.number AND a.row = 'A' AND b.row = 'B'",
    )
    assert fronts and all(front for (front,) in fronts)


def test_a_database_seeded_before_owners_and_coordinates_is_brought_up_to_date(
    seeded: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _, _ = seeded
    before = rows(engine, "SELECT id, x, y FROM seats ORDER BY id")
    with engine.begin() as conn:
        conn.execute(text("UPDATE seats SET x = 0, y = 0"))
        conn.execute(text("UPDATE venues SET owner_id = NULL, width = 0, height = 0"))
        conn.execute(text("UPDATE events SET organizer_id = NULL"))
    load_demo_data(engine)
    assert rows(engine, "SELECT id, x, y FROM seats ORDER BY id") == before
    assert rows(engine, "SELECT count(*) FROM venues WHERE owner_id IS NULL OR width = 0") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM events WHERE organizer_id IS NULL") == [(0,)]
