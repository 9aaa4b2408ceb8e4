"""Organizers' operations against the real services: roles, venues, events, blocked seats.

Every refusal is checked twice: the payload's reason, and the database left as it was.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from adapters.seatmap_cache import seatmap_channel
from api.services import Services
from tests.api.conftest import PASSWORD, data_of, error_codes

VENUE_FIELDS = "id name address totalCapacity width height"
EVENT_FIELDS = (
    "id name description status basePrice currency maxCapacity onSaleAt maxTicketsPerBuyer "
    "eventDate venue { id } availableSeats"
)
CREATE_VENUE = f"""mutation($i: VenueInput!) {{ createVenue(input: $i) {{
  success failureReason message venue {{ {VENUE_FIELDS} }} }} }}"""
UPDATE_VENUE = f"""mutation($v: ID!, $i: VenueInput!) {{ updateVenue(venueId: $v, input: $i) {{
  success failureReason message venue {{ {VENUE_FIELDS} }} }} }}"""
CREATE_EVENT = f"""mutation($i: EventInput!) {{ createEvent(input: $i) {{
  success failureReason message event {{ {EVENT_FIELDS} }} }} }}"""
UPDATE_EVENT = f"""mutation($e: ID!, $i: EventUpdateInput!) {{
  updateEvent(eventId: $e, input: $i) {{
  success failureReason message event {{ {EVENT_FIELDS} }} }} }}"""
BLOCK = """mutation($e: ID!, $s: [ID!]!, $r: String!) {
  blockSeats(eventId: $e, seatIds: $s, reason: $r) {
    success failureReason message event { id availableSeats } } }"""
UNBLOCK = """mutation($e: ID!, $s: [ID!]!) {
  unblockSeats(eventId: $e, seatIds: $s) {
    success failureReason message event { id availableSeats } } }"""
GRANT = """mutation($u: ID!, $r: Role!) {
  grantRole(userId: $u, role: $r) { success failureReason message user { id roles } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  token user { roles } } }"""
MY_VENUES = "{ myVenues { id name } }"
MY_EVENTS = "{ myEvents { id name status } }"
SEATS = "query($e: ID!) { availableSeats(eventId: $e) { id } }"
START = """mutation($e: ID!, $s: [ID!]!) {
  startCheckout(eventId: $e, seatIds: $s) {
    success failureReason takenSeatIds checkout { id } } }"""
PAY = "mutation($c: ID!) { submitPayment(checkoutId: $c) { success checkout { status } } }"


def venue_input(name: str | None = None, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f"Hall {uuid.uuid4().hex[:8]}" if name is None else name,
        "address": "1 Stage Door",
        "sections": [
            {
                "name": "FLOOR",
                "rows": [
                    {"label": "A", "seats": 4, "type": "VIP", "priceModifier": "2.5"},
                    {"label": "B", "seats": 5, "offset": 0.5},
                ],
            },
            {"name": "BALCONY", "curve": 0.5, "rows": [{"label": "A", "seats": 6}]},
        ],
    }
    data.update(changes)
    return data


def event_input(venue_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    data: dict[str, Any] = {
        "venueId": venue_id,
        "name": "Opening Night",
        "description": "The first one.",
        "eventDate": (now + timedelta(days=30)).isoformat(),
        "basePrice": "40.00",
        "currency": "EUR",
        "onSaleAt": (now + timedelta(days=1)).isoformat(),
        "maxTicketsPerBuyer": 4,
    }
    data.update(changes)
    return data


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def all_rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def counts(engine: Engine) -> dict[str, Any]:
    """What an organizer's refused operation must leave as it was."""
    return {
        "venues": scalar(engine, "SELECT count(*) FROM venues"),
        "seats": scalar(engine, "SELECT count(*) FROM seats"),
        "events": scalar(engine, "SELECT count(*) FROM events"),
        "event_seats": scalar(engine, "SELECT count(*) FROM event_seats"),
        "blocked": scalar(engine, "SELECT count(*) FROM event_seats WHERE status = 'BLOCKED'"),
        "event_rows": scalar(
            engine, "SELECT md5(string_agg(e::text, ',' ORDER BY e.id)) FROM events e"
        ),
        "venue_rows": scalar(
            engine, "SELECT md5(string_agg(v::text, ',' ORDER BY v.id)) FROM venues v"
        ),
    }


async def create_venue(gql: Any, who: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = data_of(await gql(CREATE_VENUE, {"i": data or venue_input()}, who))["createVenue"]
    assert payload["success"] is True, payload
    return payload["venue"]  # type: ignore[no-any-return]


async def create_event(gql: Any, who: Any, venue_id: str, **changes: Any) -> dict[str, Any]:
    variables = {"i": event_input(venue_id, **changes)}
    payload = data_of(await gql(CREATE_EVENT, variables, who))["createEvent"]
    assert payload["success"] is True, payload
    return payload["event"]  # type: ignore[no-any-return]


def seat_ids(engine: Engine, event_id: str) -> list[str]:
    return [
        str(r[0])
        for r in all_rows(
            engine,
            "SELECT s.id FROM event_seats es JOIN seats s ON s.id = es.seat_id "
            "WHERE es.event_id = :e ORDER BY s.section, s.row, s.number",
            e=event_id,
        )
    ]


def refused(result: dict[str, Any], field: str, reason: str) -> str:
    payload = data_of(result)[field]
    assert payload["success"] is False, payload
    assert payload["failureReason"] == reason, payload
    return payload["message"]  # type: ignore[no-any-return]


# --- roles -----------------------------------------------------------------------------------


async def test_an_admin_grants_a_role_that_the_next_sign_in_carries(
    gql: Any, make_admin: Any, make_buyer: Any, engine: Engine
) -> None:
    admin, buyer = make_admin(), make_buyer()
    granted = data_of(await gql(GRANT, {"u": buyer.id, "r": "ORGANIZER"}, admin))["grantRole"]
    assert granted["success"] is True
    assert sorted(granted["user"]["roles"]) == ["BUYER", "ORGANIZER"]
    # granting again adds nothing
    again = data_of(await gql(GRANT, {"u": buyer.id, "r": "ORGANIZER"}, admin))["grantRole"]
    assert sorted(again["user"]["roles"]) == ["BUYER", "ORGANIZER"]

    # the old token still says BUYER; a new sign-in carries the role and can lay out a venue
    refused(await gql(CREATE_VENUE, {"i": venue_input()}, buyer), "createVenue", "FORBIDDEN")
    login = data_of(await gql(LOGIN, {"e": buyer.email, "p": PASSWORD}))["login"]
    assert sorted(login["user"]["roles"]) == ["BUYER", "ORGANIZER"]
    signed_in = type(buyer)(buyer.id, buyer.email, login["token"], ("BUYER", "ORGANIZER"))
    await create_venue(gql, signed_in)


async def test_only_an_admin_grants_roles(
    gql: Any, make_buyer: Any, make_organizer: Any, make_admin: Any, engine: Engine
) -> None:
    target = make_buyer()
    for caller in (make_buyer(), make_organizer(), target):
        result = await gql(GRANT, {"u": target.id, "r": "ADMIN"}, caller)
        assert "only an ADMIN" in refused(result, "grantRole", "FORBIDDEN")
    roles = scalar(engine, "SELECT roles FROM users WHERE id = :u", u=target.id)
    assert roles == ["BUYER"]
    unknown = await gql(GRANT, {"u": str(uuid.uuid4()), "r": "ADMIN"}, make_admin())
    refused(unknown, "grantRole", "NOT_FOUND")
    malformed = await gql(GRANT, {"u": "not-a-uuid", "r": "ADMIN"}, make_admin())
    refused(malformed, "grantRole", "NOT_FOUND")
    assert error_codes(await gql(GRANT, {"u": target.id, "r": "ADMIN"})) == ["UNAUTHENTICATED"]


async def test_signing_in_comes_first_for_every_operation(gql: Any) -> None:
    some = str(uuid.uuid4())
    calls = [
        (CREATE_VENUE, {"i": venue_input()}),
        (UPDATE_VENUE, {"v": some, "i": venue_input()}),
        (CREATE_EVENT, {"i": event_input(some)}),
        (UPDATE_EVENT, {"e": some, "i": {"name": "x"}}),
        (BLOCK, {"e": some, "s": [some], "r": "house"}),
        (UNBLOCK, {"e": some, "s": [some]}),
        (MY_VENUES, {}),
        (MY_EVENTS, {}),
    ]
    for query, variables in calls:
        assert error_codes(await gql(query, variables)) == ["UNAUTHENTICATED"], query


async def test_a_buyer_is_refused_everything_and_nothing_is_written(
    gql: Any, make_buyer: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer, buyer = make_organizer(), make_buyer()
    venue = await create_venue(gql, organizer)
    event = await create_event(gql, organizer, venue["id"])
    seat = seat_ids(engine, event["id"])[0]
    before = counts(engine)
    for query, variables, field in [
        (CREATE_VENUE, {"i": venue_input()}, "createVenue"),
        (UPDATE_VENUE, {"v": venue["id"], "i": venue_input()}, "updateVenue"),
        (CREATE_EVENT, {"i": event_input(venue["id"])}, "createEvent"),
        (UPDATE_EVENT, {"e": event["id"], "i": {"name": "Mine now"}}, "updateEvent"),
        (BLOCK, {"e": event["id"], "s": [seat], "r": "mine"}, "blockSeats"),
        (UNBLOCK, {"e": event["id"], "s": [seat]}, "unblockSeats"),
    ]:
        refused(await gql(query, variables, buyer), field, "FORBIDDEN")
    for query in (MY_VENUES, MY_EVENTS):
        assert error_codes(await gql(query, {}, buyer)) == ["FORBIDDEN"]
    assert counts(engine) == before


async def test_another_organizer_is_refused_and_an_admin_is_allowed(
    gql: Any, make_organizer: Any, make_admin: Any, engine: Engine
) -> None:
    owner, other, admin = make_organizer(), make_organizer(), make_admin()
    venue = await create_venue(gql, owner)
    spare = await create_venue(gql, owner)
    event = await create_event(gql, owner, venue["id"])
    seat = seat_ids(engine, event["id"])[0]
    before = counts(engine)
    for query, variables, field in [
        (UPDATE_VENUE, {"v": spare["id"], "i": venue_input()}, "updateVenue"),
        (CREATE_EVENT, {"i": event_input(venue["id"])}, "createEvent"),
        (UPDATE_EVENT, {"e": event["id"], "i": {"name": "Hijacked"}}, "updateEvent"),
        (BLOCK, {"e": event["id"], "s": [seat], "r": "mine"}, "blockSeats"),
        (UNBLOCK, {"e": event["id"], "s": [seat]}, "unblockSeats"),
    ]:
        assert "another organizer" in refused(
            await gql(query, variables, other), field, "FORBIDDEN"
        )
    assert counts(engine) == before

    # an ADMIN may act on any, and an event it creates belongs to the venue's owner
    renamed = data_of(
        await gql(UPDATE_EVENT, {"e": event["id"], "i": {"name": "By the admin"}}, admin)
    )["updateEvent"]
    assert renamed["success"] and renamed["event"]["name"] == "By the admin"
    blocked = data_of(await gql(BLOCK, {"e": event["id"], "s": [seat], "r": "press"}, admin))
    assert blocked["blockSeats"]["success"] is True
    created = await create_event(gql, admin, spare["id"])
    organizer = scalar(engine, "SELECT organizer_id FROM events WHERE id = :e", e=created["id"])
    assert str(organizer) == owner.id
    relaid = data_of(await gql(UPDATE_VENUE, {"v": venue["id"], "i": venue_input()}, admin))
    assert relaid["updateVenue"]["failureReason"] == "INVALID_STATE"  # an event uses it


async def test_unknown_venues_and_events_are_not_found(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    before = counts(engine)
    some = str(uuid.uuid4())
    for query, variables, field in [
        (UPDATE_VENUE, {"v": some, "i": venue_input()}, "updateVenue"),
        (CREATE_EVENT, {"i": event_input(some)}, "createEvent"),
        (CREATE_EVENT, {"i": event_input("not-a-uuid")}, "createEvent"),
        (UPDATE_EVENT, {"e": some, "i": {"name": "x"}}, "updateEvent"),
        (BLOCK, {"e": some, "s": [some], "r": "house"}, "blockSeats"),
        (UNBLOCK, {"e": some, "s": [some]}, "unblockSeats"),
    ]:
        refused(await gql(query, variables, organizer), field, "NOT_FOUND")
    assert counts(engine) == before


# --- venues ----------------------------------------------------------------------------------


async def test_a_venue_is_laid_out_into_seats_with_coordinates(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    assert venue["totalCapacity"] == 15
    assert venue["width"] > 0 and venue["height"] > 0
    seats = all_rows(
        engine,
        "SELECT section, row, number, type, price_modifier, x, y FROM seats "
        "WHERE venue_id = :v ORDER BY section, row, number",
        v=venue["id"],
    )
    assert len(seats) == 15
    assert all(0 < x < venue["width"] and 0 < y < venue["height"] for *_, x, y in seats)
    assert len({(x, y) for *_, x, y in seats}) == 15
    vip = [s for s in seats if s[0] == "FLOOR" and s[1] == "A"]
    assert {(s[3], str(s[4])) for s in vip} == {("VIP", "2.500")}
    owner = scalar(engine, "SELECT owner_id FROM venues WHERE id = :v", v=venue["id"])
    assert str(owner) == organizer.id


async def test_a_5000_seat_venue_is_one_small_request(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    rows = [{"label": f"R{n}", "seats": 50} for n in range(20)]
    sections = [{"name": f"S{n}", "rows": rows, "curve": 0.2} for n in range(5)]
    data = venue_input(sections=sections)
    assert len(json.dumps(data)) < 8_000
    # Its speed is measured by the benchmark, not asserted here (a shared, noisy machine).
    venue = await create_venue(gql, make_organizer(), data)
    assert venue["totalCapacity"] == 5000
    assert scalar(engine, "SELECT count(*) FROM seats WHERE venue_id = :v", v=venue["id"]) == 5000


BAD_VENUES: list[tuple[dict[str, Any], str]] = [
    ({"sections": []}, "no sections"),
    ({"sections": [{"name": "A", "rows": []}]}, "section 'A'"),
    ({"sections": [{"name": "A", "rows": [{"label": "1", "seats": 0}]}]}, "section 'A' row '1'"),
    ({"sections": [{"name": "A", "rows": [{"label": "1", "seats": -4}]}]}, "section 'A' row '1'"),
    (
        {
            "sections": [
                {"name": "A", "rows": [{"label": "1", "seats": 2}]},
                {"name": "A", "rows": [{"label": "1", "seats": 2}]},
            ]
        },
        "section names repeated: A",
    ),
    (
        {"sections": [{"name": "A", "rows": [{"label": "1", "seats": 2}] * 2}]},
        "row labels repeated: 1",
    ),
    (
        {
            "sections": [
                {"name": f"S{n}", "rows": [{"label": "1", "seats": 1000}]} for n in range(101)
            ]
        },
        "at most 100000 seats",
    ),
    (
        {"sections": [{"name": "A", "rows": [{"label": "1", "seats": 2, "priceModifier": "0"}]}]},
        "priceModifier",
    ),
    (
        {"sections": [{"name": "A", "rows": [{"label": "1", "seats": 2, "priceModifier": "500"}]}]},
        "priceModifier",
    ),
    ({"sections": [{"name": "A" * 51, "rows": [{"label": "1", "seats": 2}]}]}, "longer than 50"),
    ({"name": ""}, "name must not be empty"),
]


@pytest.mark.parametrize(("changes", "says"), BAD_VENUES)
async def test_bad_venues_are_refused_and_write_nothing(
    gql: Any, make_organizer: Any, engine: Engine, changes: dict[str, Any], says: str
) -> None:
    before = counts(engine)
    result = await gql(CREATE_VENUE, {"i": venue_input(**changes)}, make_organizer())
    assert says in refused(result, "createVenue", "INVALID_INPUT")
    assert counts(engine) == before


async def test_a_venue_name_is_unique_per_owner(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer, other = make_organizer(), make_organizer()
    first = await create_venue(gql, organizer)
    before = counts(engine)
    again = await gql(CREATE_VENUE, {"i": venue_input(first["name"])}, organizer)
    assert "already have a venue" in refused(again, "createVenue", "INVALID_INPUT")
    assert counts(engine) == before
    await create_venue(gql, other, venue_input(first["name"]))  # another owner's namesake


async def test_a_venue_no_event_uses_gets_a_new_layout(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    new_layout = venue_input(
        "Renamed Hall", sections=[{"name": "STALLS", "rows": [{"label": "A", "seats": 7}]}]
    )
    updated = data_of(await gql(UPDATE_VENUE, {"v": venue["id"], "i": new_layout}, organizer))
    assert updated["updateVenue"]["success"] is True
    assert updated["updateVenue"]["venue"]["name"] == "Renamed Hall"
    assert updated["updateVenue"]["venue"]["totalCapacity"] == 7
    sections = all_rows(
        engine, "SELECT DISTINCT section FROM seats WHERE venue_id = :v", v=venue["id"]
    )
    assert sections == [("STALLS",)]

    # a bad layout changes nothing
    before = counts(engine)
    bad = venue_input(sections=[{"name": "X", "rows": [{"label": "A", "seats": 0}]}])
    refused(
        await gql(UPDATE_VENUE, {"v": venue["id"], "i": bad}, organizer),
        "updateVenue",
        "INVALID_INPUT",
    )
    assert counts(engine) == before

    # once an event uses it, its seats are the event's inventory: the layout is fixed
    await create_event(gql, organizer, venue["id"])
    before = counts(engine)
    result = await gql(UPDATE_VENUE, {"v": venue["id"], "i": venue_input()}, organizer)
    assert "an event uses this venue" in refused(result, "updateVenue", "INVALID_STATE")
    assert counts(engine) == before


# --- events ----------------------------------------------------------------------------------


async def test_an_event_is_created_as_a_draft_with_the_venues_inventory(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    event = await create_event(gql, organizer, venue["id"], basePrice="40.5", currency="eur")
    assert event["status"] == "DRAFT"
    assert (event["basePrice"], event["currency"]) == ("40.50", "EUR")
    assert event["maxCapacity"] == venue["totalCapacity"] == 15
    assert event["maxTicketsPerBuyer"] == 4
    assert event["venue"]["id"] == venue["id"]
    inventory = all_rows(
        engine,
        "SELECT status, count(*) FROM event_seats WHERE event_id = :e GROUP BY status",
        e=event["id"],
    )
    assert inventory == [("AVAILABLE", 15)]
    organizer_id = scalar(engine, "SELECT organizer_id FROM events WHERE id = :e", e=event["id"])
    assert str(organizer_id) == organizer.id


def _past(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


BAD_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"basePrice": "-1.00"}, "basePrice"),
    ({"basePrice": "100000.01"}, "basePrice"),
    ({"basePrice": "9.999"}, "basePrice"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "DOLLARS"}, "currency"),
    ({"eventDate": _past(1)}, "eventDate"),
    ({"onSaleAt": _ahead(31)}, "onSaleAt"),
    ({"onSaleAt": _past(400)}, "onSaleAt"),
    ({"maxTicketsPerBuyer": 0}, "maxTicketsPerBuyer"),
    ({"maxTicketsPerBuyer": 1000}, "maxTicketsPerBuyer"),
    ({"name": "   "}, "name"),
    ({"description": "x" * 5001}, "description"),
]


@pytest.mark.parametrize(("changes", "says"), BAD_EVENTS)
async def test_bad_events_are_refused_and_write_nothing(
    gql: Any, make_organizer: Any, engine: Engine, changes: dict[str, Any], says: str
) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    before = counts(engine)
    result = await gql(CREATE_EVENT, {"i": event_input(venue["id"], **changes)}, organizer)
    assert says in refused(result, "createEvent", "INVALID_INPUT")
    assert counts(engine) == before


async def test_an_event_is_edited_while_draft_or_scheduled_only(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    event = await create_event(gql, organizer, venue["id"])
    changes = {"name": "Second Night", "basePrice": "45.00", "maxTicketsPerBuyer": None}
    edited = data_of(await gql(UPDATE_EVENT, {"e": event["id"], "i": changes}, organizer))
    got = edited["updateEvent"]["event"]
    assert (got["name"], got["basePrice"], got["maxTicketsPerBuyer"]) == (
        "Second Night",
        "45.00",
        None,
    )
    assert got["description"] == "The first one."  # not given: unchanged

    before = counts(engine)
    for bad, field in [
        ({"eventDate": _ahead(0.5)}, "onSaleAt"),  # before the stored onSaleAt (1 day)
        ({"onSaleAt": _ahead(40)}, "onSaleAt"),
        ({"currency": "ZZZ"}, "currency"),
        ({"name": None}, "name"),
    ]:
        result = await gql(UPDATE_EVENT, {"e": event["id"], "i": bad}, organizer)
        assert field in refused(result, "updateEvent", "INVALID_INPUT")
    assert counts(engine) == before

    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET status = 'SCHEDULED' WHERE id = :e"), {"e": event["id"]}
        )
    scheduled = await gql(UPDATE_EVENT, {"e": event["id"], "i": {"name": "Third"}}, organizer)
    assert data_of(scheduled)["updateEvent"]["success"] is True
    for status in ("ON_SALE", "PAUSED", "CANCELLED"):
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE events SET status = :s WHERE id = :e"), {"s": status, "e": event["id"]}
            )
        before = counts(engine)
        result = await gql(UPDATE_EVENT, {"e": event["id"], "i": {"name": "Late"}}, organizer)
        assert status in refused(result, "updateEvent", "INVALID_STATE")
        assert counts(engine) == before


PUBLISH = (
    "mutation($e: ID!) { publishEvent(eventId: $e) { success failureReason event { status } } }"
)
STATUS = "query($e: ID!) { event(id: $e) { status onSaleAt } }"


@pytest.mark.usefixtures("api_worker")
async def test_moving_a_scheduled_sale_re_arms_its_opening(gql: Any, make_organizer: Any) -> None:
    organizer = make_organizer()
    venue = await create_venue(gql, organizer)
    event = await create_event(gql, organizer, venue["id"], onSaleAt=_ahead(2))
    published = data_of(await gql(PUBLISH, {"e": event["id"]}, organizer))["publishEvent"]
    assert published["event"]["status"] == "SCHEDULED", published

    # two days ahead becomes two seconds ahead: the lifecycle's timer must follow
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    moved = await gql(UPDATE_EVENT, {"e": event["id"], "i": {"onSaleAt": soon}}, organizer)
    assert data_of(moved)["updateEvent"]["success"] is True
    deadline = time.monotonic() + 20
    status = "SCHEDULED"
    while status == "SCHEDULED" and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        status = data_of(await gql(STATUS, {"e": event["id"]}))["event"]["status"]
    assert status == "ON_SALE"


async def test_my_venues_and_events_are_the_callers_own_and_an_admin_sees_all(
    gql: Any, make_organizer: Any, make_admin: Any
) -> None:
    one, two = make_organizer(), make_organizer()
    venue_one, venue_two = await create_venue(gql, one), await create_venue(gql, two)
    event_one = await create_event(gql, one, venue_one["id"], name="One's")
    event_two = await create_event(gql, two, venue_two["id"], name="Two's")
    mine = data_of(await gql(MY_VENUES, {}, one))["myVenues"]
    assert [v["id"] for v in mine] == [venue_one["id"]]
    events = data_of(await gql(MY_EVENTS, {}, one))["myEvents"]
    assert [(e["id"], e["status"]) for e in events] == [(event_one["id"], "DRAFT")]
    admin = make_admin()
    all_venues = {v["id"] for v in data_of(await gql(MY_VENUES, {}, admin))["myVenues"]}
    all_events = {e["id"] for e in data_of(await gql(MY_EVENTS, {}, admin))["myEvents"]}
    assert {venue_one["id"], venue_two["id"]} <= all_venues
    assert {event_one["id"], event_two["id"]} <= all_events


# --- blocked seats ---------------------------------------------------------------------------


async def _on_sale(gql: Any, organizer: Any, engine: Engine) -> tuple[str, list[str]]:
    venue = await create_venue(gql, organizer)
    event = await create_event(gql, organizer, venue["id"], onSaleAt=None, maxTicketsPerBuyer=None)
    # Publishing is the lifecycle's operation; here the sale only needs to be open.
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'ON_SALE' WHERE id = :e"), {"e": event["id"]})
    return event["id"], seat_ids(engine, event["id"])


def next_change(changes: Any) -> dict[str, Any]:
    """The next seat-map change published on the subscribed channel (kind and seats)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        # get_message answers None for the subscription's own confirmation too: keep reading.
        message = changes.get_message(timeout=0.5)
        if message is not None:
            data = json.loads(message["data"])
            return {"kind": data["kind"], "seatIds": data["seatIds"]}
    raise AssertionError("no seat-map change was published")


async def available(gql: Any, event_id: str) -> set[str]:
    return {s["id"] for s in data_of(await gql(SEATS, {"e": event_id}))["availableSeats"]}


@pytest.mark.usefixtures("api_worker")
async def test_blocked_seats_leave_the_map_cannot_be_held_and_come_back_unblocked(
    gql: Any, make_organizer: Any, make_buyer: Any, engine: Engine, services: Services
) -> None:
    organizer, buyer = make_organizer(), make_buyer()
    event_id, seats = await _on_sale(gql, organizer, engine)
    house = seats[:2]
    assert set(house) <= await available(gql, event_id)  # the map is cached now

    changes = services.redis.pubsub(ignore_subscribe_messages=True)
    changes.subscribe(seatmap_channel(services.settings.redis_prefix, event_id))
    try:
        blocked = data_of(
            await gql(BLOCK, {"e": event_id, "s": house, "r": " House seats "}, organizer)
        )
        assert blocked["blockSeats"]["success"] is True
        assert blocked["blockSeats"]["event"]["availableSeats"] == len(seats) - 2
        assert next_change(changes) == {"kind": "blocked", "seatIds": sorted(house)}
    finally:
        changes.close()

    # announced, so visible at once, not after the cache's staleness bound
    assert not set(house) & await available(gql, event_id)
    stored = all_rows(
        engine,
        "SELECT status, block_reason FROM event_seats "
        "WHERE event_id = :e AND seat_id = ANY(CAST(:s AS uuid[]))",
        e=event_id,
        s=house,
    )
    assert stored == [("BLOCKED", "House seats")] * 2

    held = data_of(await gql(START, {"e": event_id, "s": house[:1]}, buyer))["startCheckout"]
    assert held["success"] is False and held["failureReason"] == "SEATS_UNAVAILABLE"

    unblocked = data_of(await gql(UNBLOCK, {"e": event_id, "s": house}, organizer))
    assert unblocked["unblockSeats"]["success"] is True
    assert set(house) <= await available(gql, event_id)
    assert scalar(
        engine,
        "SELECT count(*) FROM event_seats WHERE event_id = :e AND status = 'AVAILABLE' "
        "AND block_reason IS NULL",
        e=event_id,
    ) == len(seats)
    # a fresh buyer (the first one's failed checkout may still be winding down)
    again = data_of(await gql(START, {"e": event_id, "s": house[:1]}, make_buyer()))
    assert again["startCheckout"]["success"] is True, again


@pytest.mark.usefixtures("api_worker")
async def test_blocking_every_unsold_seat_sells_the_event_out_and_unblocking_reopens_it(
    gql: Any, make_organizer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    event_id, seats = await _on_sale(gql, organizer, engine)
    status = "SELECT status FROM events WHERE id = :e"

    assert data_of(await gql(BLOCK, {"e": event_id, "s": seats[:-1], "r": "house"}, organizer))[
        "blockSeats"
    ]["success"]
    assert scalar(engine, status, e=event_id) == "ON_SALE"  # one seat is still for sale
    assert data_of(await gql(BLOCK, {"e": event_id, "s": seats[-1:], "r": "house"}, organizer))[
        "blockSeats"
    ]["success"]
    assert scalar(engine, status, e=event_id) == "SOLD_OUT"

    assert data_of(await gql(UNBLOCK, {"e": event_id, "s": seats[:1]}, organizer))["unblockSeats"][
        "success"
    ]
    assert scalar(engine, status, e=event_id) == "ON_SALE"


@pytest.mark.usefixtures("api_worker")
async def test_blocking_is_all_or_none_and_refuses_booked_seats_and_other_venues(
    gql: Any, make_organizer: Any, make_buyer: Any, engine: Engine
) -> None:
    organizer = make_organizer()
    event_id, seats = await _on_sale(gql, organizer, engine)
    other_event, other_seats = await _on_sale(gql, organizer, engine)

    # a seat of another venue, next to a good one: named, and nothing blocked
    before = counts(engine)
    mixed = [seats[0], other_seats[0]]
    result = await gql(BLOCK, {"e": event_id, "s": mixed, "r": "sponsor"}, organizer)
    assert other_seats[0] in refused(result, "blockSeats", "NOT_FOUND")
    assert counts(engine) == before

    # a booked seat: refused by name, and the available one beside it stays available
    buyer = make_buyer()
    started = data_of(await gql(START, {"e": event_id, "s": seats[1:2]}, buyer))["startCheckout"]
    assert started["success"] is True, started
    paid = data_of(await gql(PAY, {"c": started["checkout"]["id"]}, buyer))["submitPayment"]
    assert paid["checkout"]["status"] == "CONFIRMED"
    before = counts(engine)
    result = await gql(BLOCK, {"e": event_id, "s": seats[:2], "r": "sponsor"}, organizer)
    assert seats[1] in refused(result, "blockSeats", "INVALID_STATE")
    assert counts(engine) == before
    result = await gql(UNBLOCK, {"e": event_id, "s": seats[1:2]}, organizer)
    refused(result, "unblockSeats", "INVALID_STATE")

    # input: a reason is required, seat ids are ids
    for variables in (
        {"e": event_id, "s": seats[:1], "r": "  "},
        {"e": event_id, "s": ["seat-1"], "r": "x"},
        {"e": event_id, "s": [], "r": "x"},
        {"e": event_id, "s": seats[:1], "r": "x" * 201},
    ):
        refused(await gql(BLOCK, variables, organizer), "blockSeats", "INVALID_INPUT")
    assert counts(engine) == before

    # blocking twice is harmless; a cancelled event's seats no longer change
    for _ in range(2):
        ok = await gql(BLOCK, {"e": other_event, "s": other_seats[:1], "r": "x"}, organizer)
        assert data_of(ok)["blockSeats"]["success"] is True
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET status = 'CANCELLED' WHERE id = :e"), {"e": other_event}
        )
    before = counts(engine)
    result = await gql(UNBLOCK, {"e": other_event, "s": other_seats[:1]}, organizer)
    assert "CANCELLED" in refused(result, "unblockSeats", "INVALID_STATE")
    assert counts(engine) == before
