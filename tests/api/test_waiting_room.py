"""The waiting room through GraphQL, on the real services: joining, places, admissions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from adapters.payments import TOKEN_APPROVE, TOKEN_DECLINE
from adapters.waiting_room_events import recent_order_size
from adapters.waiting_room_service import WaitingRoom
from api.services import Services
from bootstrap import waiting_room
from domain.waiting_room import PRIOR_TURNS
from tests.api.conftest import data_of

pytestmark = pytest.mark.usefixtures("api_worker")

JOIN = """mutation($e: ID!) { joinQueue(eventId: $e) {
  success failureReason status { state position ahead etaSeconds queued admission } } }"""
STATUS = """query($e: ID!) { queueStatus(eventId: $e) {
  state position ahead etaSeconds expectedTurnAt queued admission admissionExpiresAt
  seatsMayComeBack pollAfterMs message } }"""
SWITCH = """mutation($e: ID!, $on: Boolean!) { setWaitingRoom(eventId: $e, enabled: $on) {
  success failureReason waitingRoom { enabled queued admitted } } }"""
ROOM = "query($e: ID!) { waitingRoom(eventId: $e) { enabled queued admitted admissionRate } }"
START = """mutation($e: ID!, $s: [ID!]!, $a: String) {
  startCheckout(eventId: $e, seatIds: $s, admission: $a) {
    success failureReason takenSeatIds checkout { id } } }"""
START_PLAIN = """mutation($e: ID!, $s: [ID!]!) { startCheckout(eventId: $e, seatIds: $s) {
  success failureReason takenSeatIds checkout { id } } }"""
SEATS = "query($e: ID!) { availableSeats(eventId: $e) { id } }"


async def join(gql: Any, event_id: str, buyer: Any) -> dict[str, Any]:
    payload = data_of(await gql(JOIN, {"e": event_id}, buyer))["joinQueue"]
    assert payload["success"] is True, payload
    return payload["status"]  # type: ignore[no-any-return]


async def status(gql: Any, event_id: str, buyer: Any) -> dict[str, Any]:
    return data_of(await gql(STATUS, {"e": event_id}, buyer))["queueStatus"]  # type: ignore[no-any-return]


async def room_on(gql: Any, event_id: str, admin: Any) -> None:
    switched = data_of(await gql(SWITCH, {"e": event_id, "on": True}, admin))["setWaitingRoom"]
    assert switched["success"] is True and switched["waitingRoom"]["enabled"] is True


@pytest.fixture
def short_turns(services: Services) -> Iterator[None]:
    """The room with two-second turns for the test (the API's own is built by bootstrap)."""
    original = services.waiting_room
    quick = services.settings.model_copy(update={"waiting_room_turn_seconds": 2})
    services.waiting_room = waiting_room(quick, services)
    try:
        yield
    finally:
        services.waiting_room = original


async def test_joining_gives_places_in_arrival_order_once_per_account(
    gql: Any, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    event = event_factory(seats=4)
    buyers = [make_buyer() for _ in range(4)]
    assert (await status(gql, event.id, buyers[0]))["state"] == "NOT_QUEUED"
    refused = data_of(await gql(SWITCH, {"e": event.id, "on": True}, buyers[0]))
    assert refused["setWaitingRoom"]["failureReason"] == "FORBIDDEN"
    await room_on(gql, event.id, make_admin())

    places = [(await join(gql, event.id, b))["position"] for b in buyers]
    assert places == [1, 2, 3, 4]
    # joining again (a second client of the same account) is the same entry
    again = await join(gql, event.id, buyers[2])
    assert again["position"] == 3 and again["queued"] == 4
    # 4 seats serve one buyer at a time (2.5 seats each): the first is admitted, the rest wait
    first, last = await status(gql, event.id, buyers[0]), await status(gql, event.id, buyers[3])
    assert first["state"] == "ADMITTED" and first["admission"]
    assert last["state"] == "WAITING" and last["admission"] is None
    # buyers 2 and 3 still wait; no seat in sight serves the last one's turn (the first
    # buyer's turn takes the seats; the fifth of them expected back after failed payments
    # and abandoned holds does not make another buyer's 2.5): no ETA rather than a guess
    assert last["ahead"] == 2 and last["etaSeconds"] is None
    view = data_of(await gql(ROOM, {"e": event.id}, make_admin()))["waitingRoom"]
    assert view["enabled"] is True and view["queued"] == 4 and view["admitted"] == 1


async def test_a_hold_without_a_live_admission_is_refused_and_holds_nothing(
    gql: Any,
    http: httpx.AsyncClient,
    make_buyer: Any,
    make_admin: Any,
    event_factory: Any,
) -> None:
    event = event_factory(seats=4)
    await room_on(gql, event.id, make_admin())
    buyer, other = make_buyer(), make_buyer()
    admitted = await join(gql, event.id, buyer)
    assert (await status(gql, event.id, buyer))["state"] == "ADMITTED"
    token = (await status(gql, event.id, buyer))["admission"]
    assert admitted["position"] == 1

    seats = event.seat_ids[:2]
    for who, admission in ((buyer, None), (buyer, "not-a-token"), (other, token)):
        refused = data_of(await gql(START, {"e": event.id, "s": seats, "a": admission}, who))
        assert refused["startCheckout"]["failureReason"] == "NOT_ADMITTED", refused
        assert refused["startCheckout"]["checkout"] is None
    # over HTTP twice: graphql-core, then the refusals' fast path, alike
    for _ in range(2):
        response = await http.post(
            "/graphql",
            json={"query": START_PLAIN, "variables": {"e": event.id, "s": seats}},
            headers={"Authorization": f"Bearer {buyer.token}"},
        )
        assert response.json()["data"]["startCheckout"]["failureReason"] == "NOT_ADMITTED"
    available = {s["id"] for s in data_of(await gql(SEATS, {"e": event.id}))["availableSeats"]}
    assert available == set(event.seat_ids)  # nothing held

    held = data_of(await gql(START, {"e": event.id, "s": seats, "a": token}, buyer))
    assert held["startCheckout"]["success"] is True, held


@pytest.mark.usefixtures("short_turns")
async def test_an_admitted_buyer_who_does_not_hold_in_time_loses_the_turn(
    gql: Any, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    event = event_factory(seats=2)  # one buyer at a time
    await room_on(gql, event.id, make_admin())
    late, next_one = make_buyer(), make_buyer()
    await join(gql, event.id, late)
    await join(gql, event.id, next_one)
    first = await status(gql, event.id, late)
    assert first["state"] == "ADMITTED"
    assert (await status(gql, event.id, next_one))["state"] == "WAITING"

    # past the turn's deadline: the admission no longer holds, and the turn goes on
    deadline = datetime.fromisoformat(first["admissionExpiresAt"])
    while datetime.now(UTC) <= deadline + timedelta(milliseconds=300):
        await asyncio_sleep(0.2)
    assert (await status(gql, event.id, late))["state"] == "TURN_EXPIRED"
    refused = data_of(
        await gql(START, {"e": event.id, "s": event.seat_ids[:1], "a": first["admission"]}, late)
    )
    assert refused["startCheckout"]["failureReason"] == "NOT_ADMITTED"
    for _ in range(20):
        if (await status(gql, event.id, next_one))["state"] == "ADMITTED":
            break
        await asyncio_sleep(0.3)
    assert (await status(gql, event.id, next_one))["state"] == "ADMITTED"
    # one entry per account: joining again does not give a second turn
    assert (await join(gql, event.id, late))["state"] == "TURN_EXPIRED"


def opens_in(engine: Engine, event_id: str, after: timedelta) -> None:
    """Sets the event's onSaleAt ``after`` from now (the room is on without the organizer)."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET on_sale_at = :t WHERE id = :e"),
            {"t": datetime.now(UTC) + after, "e": event_id},
        )


async def open_after_pre_queue(
    gql: Any, services: Services, engine: Engine, event: Any, buyers: list[Any]
) -> WaitingRoom:
    """The event's sale opens in an hour (an onSaleAt: the room is on without the organizer);
    ``buyers`` join its pre-queue; then the sale opens, as the lifecycle does at onSaleAt
    (this process's copy of the event still says SCHEDULED). The room, for what follows."""
    opens_in(engine, event.id, timedelta(hours=1))
    room = services.waiting_room
    assert room is not None
    room.forget(event.id)
    for buyer in buyers:
        joined = await join(gql, event.id, buyer)
        assert joined["state"] == "PRE_QUEUE" and joined["position"] is None
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'ON_SALE' WHERE id = :e"), {"e": event.id})
    return room


async def test_the_pre_queue_is_shuffled_at_the_opening_and_later_arrivals_queue_in_order(
    gql: Any, services: Services, make_buyer: Any, event_factory: Any, engine: Engine
) -> None:
    event = event_factory(seats=4, status="SCHEDULED")
    early = [make_buyer() for _ in range(25)]
    room = await open_after_pre_queue(gql, services, engine, event, early)
    room.forget(event.id)
    late = [make_buyer() for _ in range(3)]
    late_places = [(await join(gql, event.id, b))["position"] for b in late]
    places = [(await status(gql, event.id, b))["position"] for b in early]
    assert sorted(places) == list(range(1, 26))
    assert places != list(range(1, 26))  # 1 in 25! to fail by chance
    assert late_places == [26, 27, 28]


async def test_the_pre_queue_is_told_to_ask_at_the_opening_front_first(
    gql: Any,
    services: Services,
    make_buyer: Any,
    event_factory: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # places a second apart, so the milliseconds between the test's asks cannot reorder them
    monkeypatch.setattr("domain.waiting_room.OPENING_MS_PER_PLACE", 1000.0)
    event = event_factory(seats=4, status="SCHEDULED")
    opens_in(engine, event.id, timedelta(seconds=5))
    services.waiting_room.forget(event.id)  # type: ignore[union-attr]
    early = [make_buyer() for _ in range(6)]
    for buyer in early:
        assert (await join(gql, event.id, buyer))["state"] == "PRE_QUEUE"
    hints = [(await status(gql, event.id, b))["pollAfterMs"] for b in early]
    # at the opening (5 s away at most), then a place's second after another: 5 places behind
    assert 0 < min(hints) <= 5_000 and max(hints) - min(hints) > 4_000, hints
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET status = 'ON_SALE' WHERE id = :e"), {"e": event.id})
    services.waiting_room.forget(event.id)  # type: ignore[union-attr]
    places = [(await status(gql, event.id, b))["position"] for b in early]
    by_hint = [place for _, place in sorted(zip(hints, places, strict=True))]
    assert by_hint == sorted(places) == list(range(1, 7))


async def test_a_process_that_learns_of_the_opening_from_the_room_tells_etas_at_once(
    gql: Any,
    services: Services,
    make_buyer: Any,
    event_factory: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This process's copy of the event stays as it was read (SCHEDULED) for the whole test.
    monkeypatch.setattr("adapters.waiting_room_service.EVENT_TTL_SECONDS", 3600.0)
    monkeypatch.setattr("adapters.waiting_room_service.REREAD_AFTER_OPENING_SECONDS", 0.0)
    event = event_factory(seats=100, status="SCHEDULED")
    early = [make_buyer() for _ in range(10)]
    room = await open_after_pre_queue(gql, services, engine, event, early)
    # Another API process sees the opening first: a buyer joins through it (no tick yet).
    late = make_buyer()
    store = room._store  # noqa: SLF001 - the other process's write, without its tick
    await store.join(event.id, late.id, True, 0.5, int(datetime.now(UTC).timestamp() * 1000))

    told = [await status(gql, event.id, buyer) for buyer in early]
    assert {s["state"] for s in told} <= {"WAITING", "ADMITTED"}
    assert all(s["etaSeconds"] is not None for s in told), told  # 100 seats serve them all


async def test_buyers_told_their_place_at_the_opening_are_told_an_eta_before_its_first_tick(
    gql: Any, services: Services, make_buyer: Any, event_factory: Any, engine: Engine
) -> None:
    event = event_factory(seats=100, status="SCHEDULED")
    early = [make_buyer() for _ in range(10)]
    room = await open_after_pre_queue(gql, services, engine, event, early)
    room.forget(event.id)
    # Another process holds the tick's lease: no tick runs after the opening during the test.
    assert await room._store.lease(event.id, 60_000)  # noqa: SLF001
    told = [await status(gql, event.id, buyer) for buyer in early]
    assert {s["state"] for s in told} == {"WAITING"}
    assert all(s["etaSeconds"] is not None for s in told), told  # the opening's forecast
    for s in told:  # the same forecast to the millisecond, for a countdown
        expected = datetime.fromisoformat(s["expectedTurnAt"]).timestamp()
        assert abs(expected - datetime.now(UTC).timestamp() - s["etaSeconds"]) < 1.5, s


HOLD_MORE = """mutation($c: ID!, $s: [ID!]!, $a: String) {
  holdSeats(checkoutId: $c, seatIds: $s, admission: $a) { success failureReason } }"""
SEATS_PER_TURN = "query($e: ID!) { waitingRoom(eventId: $e) { seatsPerTurn } }"


async def test_what_a_turn_takes_is_measured_from_the_holds_made_in_it(
    gql: Any, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    event = event_factory(seats=8)
    admin = make_admin()
    await room_on(gql, event.id, admin)
    before = data_of(await gql(SEATS_PER_TURN, {"e": event.id}, admin))["waitingRoom"]
    assert before["seatsPerTurn"] == 2.5  # the configured guess: nothing measured yet

    buyer = make_buyer()
    await join(gql, event.id, buyer)
    token = (await status(gql, event.id, buyer))["admission"]
    assert token
    started = data_of(
        await gql(START, {"e": event.id, "s": event.seat_ids[:3], "a": token}, buyer)
    )["startCheckout"]
    assert started["success"] is True, started
    more = data_of(
        await gql(
            HOLD_MORE,
            {"c": started["checkout"]["id"], "s": event.seat_ids[3:4], "a": token},
            buyer,
        )
    )["holdSeats"]
    assert more["success"] is True, more

    # one turn that took 4 seats, beside the guess counted as PRIOR_TURNS turns of 2.5
    after = data_of(await gql(SEATS_PER_TURN, {"e": event.id}, admin))["waitingRoom"]
    assert after["seatsPerTurn"] == round((4 + 2.5 * PRIOR_TURNS) / (1 + PRIOR_TURNS), 2)


async def test_a_room_starts_from_the_platforms_latest_orders(
    engine: Engine, make_buyer: Any, event_factory: Any
) -> None:
    event = event_factory(seats=6)
    buyer = make_buyer()
    # Three orders newer than any other test's (a day ahead), in turn: 1, 2 and 3 seats.
    with engine.begin() as conn:
        seat = iter(event.seat_ids)
        for n in (1, 2, 3):
            booking = uuid.uuid4()
            conn.execute(
                text(
                    "INSERT INTO bookings (id, reference, checkout_id, user_id, event_id,"
                    " total_price, currency, status, created_at, updated_at) VALUES (:id, :ref,"
                    " :c, :u, :e, 0, 'USD', 'CONFIRMED',"
                    " now() + interval '1 day' + :n * interval '1 second', now())"
                ),
                {
                    "id": booking,
                    "ref": booking.hex[:12],
                    "c": uuid.uuid4(),
                    "u": buyer.id,
                    "e": event.id,
                    "n": n,
                },
            )
            for _ in range(n):
                conn.execute(
                    text(
                        "INSERT INTO booking_seats (booking_id, seat_id, event_id, price)"
                        " VALUES (:b, :s, :e, 0)"
                    ),
                    {"b": booking, "s": next(seat), "e": event.id},
                )

    try:
        # the third came with half the seats sold: it is not what a buyer takes while seats
        # are plentiful, and is left out
        assert recent_order_size(engine, 2) == 1.5
        assert recent_order_size(engine, 1) == 2.0
    finally:  # unpaid orders would be the reconciler's to repair once past its grace
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM booking_seats WHERE event_id = :e"), {"e": event.id})
            conn.execute(text("DELETE FROM bookings WHERE event_id = :e"), {"e": event.id})


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


MEASURED = """query($e: ID!) { waitingRoom(eventId: $e) {
  failedShare soonestHoldSeconds lostShare } }"""
PAY = """mutation($c: ID!, $t: String) { submitPayment(checkoutId: $c, paymentToken: $t) {
  success failureReason } }"""


async def test_answered_payments_measure_the_share_declined(
    gql: Any, services: Services, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    event = event_factory(seats=6)
    admin = make_admin()
    await room_on(gql, event.id, admin)
    buyers = [make_buyer(), make_buyer()]
    for buyer in buyers:
        await join(gql, event.id, buyer)
    answers = []
    cards = ((event.seat_ids[:2], TOKEN_APPROVE), (event.seat_ids[2:5], TOKEN_DECLINE))
    for buyer, (seats, card) in zip(buyers, cards, strict=True):
        for _ in range(20):  # six seats serve two turns: both are admitted, a tick apart
            token = (await status(gql, event.id, buyer))["admission"]
            if token:
                break
            await asyncio_sleep(0.3)
        assert token
        started = data_of(await gql(START, {"e": event.id, "s": seats, "a": token}, buyer))
        checkout = started["startCheckout"]["checkout"]["id"]
        paid = data_of(await gql(PAY, {"c": checkout, "t": card}, buyer))["submitPayment"]
        answers.append((paid["success"], paid["failureReason"]))
    assert answers == [(True, None), (False, "PAYMENT_DECLINED")]
    # of the paying seats, 3 of 5 declined, beside the configured tenth of the seats held (of
    # those paying: 0.1 / 0.9) counted as PRIOR_TURNS seats; as a share of the seats held
    settings = services.settings
    paying = 1 - settings.waiting_room_abandoned_share
    prior = settings.waiting_room_failed_share / paying
    declined = (3 + prior * PRIOR_TURNS) / (5 + PRIOR_TURNS)
    # counted once the seconds they were submitted in are over (the tests' settle time is 0)
    for _ in range(30):
        view = data_of(await gql(MEASURED, {"e": event.id}, admin))["waitingRoom"]
        if view["failedShare"] == round(declined * paying, 3):
            break
        await asyncio_sleep(0.1)
    assert view["failedShare"] == round(declined * paying, 3)
    # two turns held: too few to measure how soon buyers hold, so the configured guess
    assert view["soonestHoldSeconds"] == settings.waiting_room_hold_after_seconds
    assert view["lostShare"] == settings.waiting_room_lost_share
