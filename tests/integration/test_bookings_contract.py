"""BookingStore contract: the PostgreSQL store and the in-memory fake must behave the same."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import Engine, select

from adapters.bookings import booking_reference
from adapters.orm import BookingSeat
from adapters.payments import TOKEN_APPROVE
from domain.errors import DomainError, ErrorCode
from domain.model import BookingStatus, ConfirmRequest, SeatStatus
from tests.factories import BookingWorld, EventFixture, MemoryWorld, PostgresWorld


@pytest.fixture(params=["memory", "postgres"])
def world(request: pytest.FixtureRequest) -> BookingWorld:
    if request.param == "memory":
        return MemoryWorld()
    return PostgresWorld(request.getfixturevalue("engine"))


def request_for(
    world: BookingWorld,
    event: EventFixture,
    seats: list[str],
    user_id: str,
    checkout_id: str | None = None,
) -> ConfirmRequest:
    price = sum(
        (
            (event.base_price * event.modifiers[s]).quantize(Decimal("0.01"), ROUND_HALF_UP)
            for s in seats
        ),
        Decimal("0.00"),
    )
    checkout = checkout_id or str(uuid.uuid4())
    return ConfirmRequest(
        checkout_id=checkout,
        user_id=user_id,
        event_id=event.event_id,
        seat_ids=tuple(seats),
        total=price,
        currency=event.currency,
        payment_intent_id=authorized(world, checkout, price or Decimal("1.00")),
    )


def authorized(world: BookingWorld, checkout_id: str, amount: Decimal) -> str:
    """A live authorization of the checkout, as the saga's step before the confirm leaves it
    (its own key: a test may ask for a second request of one checkout)."""
    key = f"contract:{uuid.uuid4()}"
    return world.payments.authorize(key, amount, "USD", TOKEN_APPROVE, checkout_id=checkout_id).id


def statuses(world: BookingWorld, event: EventFixture) -> dict[str, tuple[SeatStatus, str | None]]:
    return world.seat_states(event.event_id)


def test_confirm_books_exactly_the_requested_seats(world: BookingWorld) -> None:
    event = world.new_event(n_seats=5, modifiers=[Decimal("1.5"), *[Decimal("1")] * 4])
    user = world.new_user()
    wanted = [event.seat_ids[3], event.seat_ids[1]]  # unsorted on purpose
    req = request_for(world, event, wanted, user)

    booking = world.store.confirm(req)

    assert booking.status is BookingStatus.CONFIRMED
    assert booking.seat_ids == tuple(sorted(wanted))
    assert booking.total == req.total
    assert booking.currency == "USD"
    assert booking.checkout_id == req.checkout_id
    assert booking.payment_intent_id == req.payment_intent_id
    states = statuses(world, event)
    for seat in event.seat_ids:
        expected = (
            (SeatStatus.BOOKED, booking.id) if seat in wanted else (SeatStatus.AVAILABLE, None)
        )
        assert states[seat] == expected
    assert world.store.get_by_checkout(req.checkout_id) == booking
    assert world.store.get_by_reference(booking.reference) == booking


def test_confirm_stores_per_seat_prices(engine: Engine) -> None:
    world = PostgresWorld(engine)
    event = world.new_event(n_seats=2, base_price=Decimal("20.25"), modifiers=[Decimal("0.5")] * 2)
    req = request_for(world, event, event.seat_ids, world.new_user())
    # 20.25 * 0.5 = 10.125 -> 10.13 each (half up, not half even)
    req = replace(req, total=Decimal("20.26"))

    booking = world.store.confirm(req)

    with engine.connect() as conn:
        rows = conn.execute(
            select(BookingSeat.seat_id, BookingSeat.price, BookingSeat.released_at).where(
                BookingSeat.booking_id == uuid.UUID(booking.id)
            )
        ).all()
    assert sorted((str(r.seat_id), r.price, r.released_at) for r in rows) == [
        (s, Decimal("10.13"), None) for s in event.seat_ids
    ]


def test_repeated_confirm_returns_the_same_booking(world: BookingWorld) -> None:
    event = world.new_event(n_seats=4)
    req = request_for(world, event, event.seat_ids[:2], world.new_user())

    first = world.store.confirm(req)
    again = world.store.confirm(req)
    # a retried activity with a different selection still gets the checkout's one booking
    other = world.store.confirm(
        request_for(world, event, event.seat_ids[2:], req.user_id, req.checkout_id)
    )

    assert again == first
    assert other == first
    states = statuses(world, event)
    assert [states[s][0] for s in event.seat_ids[2:]] == [SeatStatus.AVAILABLE] * 2


def test_confirm_of_a_booked_seat_fails_and_changes_nothing(world: BookingWorld) -> None:
    event = world.new_event(n_seats=4)
    s = event.seat_ids
    winner = world.store.confirm(request_for(world, event, [s[0], s[1]], world.new_user()))
    before = statuses(world, event)
    loser = request_for(world, event, [s[1], s[2], s[3]], world.new_user())

    with pytest.raises(DomainError) as err:
        world.store.confirm(loser)

    assert err.value.code is ErrorCode.SEATS_UNAVAILABLE
    assert err.value.details["seat_ids"] == [s[1]]
    assert not err.value.retryable
    assert statuses(world, event) == before
    assert world.store.get_by_checkout(loser.checkout_id) is None
    assert world.store.get_by_checkout(winner.checkout_id) == winner


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"checkout_id": "not-a-uuid"}, ErrorCode.INVALID_INPUT),
        ({"user_id": "42"}, ErrorCode.INVALID_INPUT),
        ({"event_id": ""}, ErrorCode.INVALID_INPUT),
        ({"seat_ids": ("nope",)}, ErrorCode.INVALID_INPUT),
        ({"seat_ids": ()}, ErrorCode.INVALID_INPUT),
        ({"total": Decimal("1.00")}, ErrorCode.INVALID_INPUT),
        ({"total": Decimal("-5.00")}, ErrorCode.INVALID_INPUT),
        ({"total": 100.0}, ErrorCode.INVALID_INPUT),
        ({"currency": "EUR"}, ErrorCode.INVALID_INPUT),
        ({"currency": "dollars"}, ErrorCode.INVALID_INPUT),
        ({"event_id": str(uuid.uuid4())}, ErrorCode.NOT_FOUND),
    ],
)
def test_bad_confirm_requests_are_refused_and_change_nothing(
    world: BookingWorld, change: dict[str, object], code: ErrorCode
) -> None:
    event = world.new_event(n_seats=2)
    req = request_for(world, event, event.seat_ids, world.new_user())
    bad = replace(req, **change)

    with pytest.raises(DomainError) as err:
        world.store.confirm(bad)

    assert err.value.code is code
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}
    assert world.store.get_by_checkout(req.checkout_id) is None


def test_duplicate_and_foreign_seats_are_refused(world: BookingWorld) -> None:
    event, other = world.new_event(n_seats=2), world.new_event(n_seats=1)
    user = world.new_user()
    dup = request_for(world, event, [event.seat_ids[0]], user)
    dup = replace(dup, seat_ids=(event.seat_ids[0],) * 2)
    foreign = request_for(world, event, [event.seat_ids[0]], user)
    foreign = replace(foreign, seat_ids=(event.seat_ids[0], other.seat_ids[0]))

    with pytest.raises(DomainError) as dup_err:
        world.store.confirm(dup)
    with pytest.raises(DomainError) as foreign_err:
        world.store.confirm(foreign)

    assert dup_err.value.code is ErrorCode.DUPLICATE_SEATS
    assert foreign_err.value.code is ErrorCode.NOT_FOUND
    assert foreign_err.value.details["seat_ids"] == [other.seat_ids[0]]
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}


def test_confirm_refuses_an_event_not_on_sale(world: BookingWorld) -> None:
    event = world.new_event(n_seats=1, status="DRAFT")
    req = request_for(world, event, event.seat_ids, world.new_user())

    with pytest.raises(DomainError) as err:
        world.store.confirm(req)

    assert err.value.code is ErrorCode.EVENT_NOT_ON_SALE
    assert world.store.get_by_checkout(req.checkout_id) is None


def test_cancel_gives_the_seats_back_and_is_idempotent(world: BookingWorld) -> None:
    event = world.new_event(n_seats=3)
    req = request_for(world, event, event.seat_ids[:2], world.new_user())
    booking = world.store.confirm(req)

    cancelled = world.store.cancel(req.checkout_id)
    again = world.store.cancel(req.checkout_id)

    assert cancelled is not None
    assert cancelled.status is BookingStatus.CANCELLED
    assert cancelled.id == booking.id
    assert cancelled.seat_ids == booking.seat_ids  # the receipt still says what was bought
    assert again == cancelled
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}
    # a retried confirm of the cancelled checkout must not book the seats again
    assert world.store.confirm(req) == cancelled
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}
    # and the released seats can be sold to someone else
    rebooked = world.store.confirm(request_for(world, event, event.seat_ids[:2], world.new_user()))
    assert rebooked.status is BookingStatus.CONFIRMED


def test_cancel_of_an_unknown_checkout_is_none(world: BookingWorld) -> None:
    assert world.store.cancel(str(uuid.uuid4())) is None
    with pytest.raises(DomainError) as err:
        world.store.cancel("not-a-uuid")
    assert err.value.code is ErrorCode.INVALID_INPUT


def test_mark_refunded_releases_the_seats(world: BookingWorld) -> None:
    event = world.new_event(n_seats=2)
    req = request_for(world, event, event.seat_ids, world.new_user())
    world.store.confirm(req)

    refunded = world.store.mark_refunded(req.checkout_id)

    assert refunded is not None and refunded.status is BookingStatus.REFUNDED
    assert world.store.mark_refunded(req.checkout_id) == refunded
    assert world.store.cancel(req.checkout_id) == refunded  # refunded stays refunded
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}


def test_reference_is_human_and_deterministic(world: BookingWorld) -> None:
    event = world.new_event(n_seats=1)
    req = request_for(world, event, event.seat_ids, world.new_user())

    booking = world.store.confirm(req)

    assert re.fullmatch(r"TB-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", booking.reference)
    assert booking.reference == booking_reference(req.checkout_id)
    assert booking_reference(req.checkout_id.upper()) == booking.reference
    assert booking_reference(str(uuid.uuid4())) != booking.reference
    assert world.store.get_by_reference(booking.reference.lower()) == booking
    assert world.store.get_by_reference("TB-00000-00000") is None


def test_list_for_user_is_newest_first(world: BookingWorld) -> None:
    event = world.new_event(n_seats=3)
    user, stranger = world.new_user(), world.new_user()
    made = [world.store.confirm(request_for(world, event, [s], user)) for s in event.seat_ids]

    assert [b.id for b in world.store.list_for_user(user)] == [b.id for b in reversed(made)]
    assert world.store.list_for_user(stranger) == []


def test_confirm_for_an_unknown_user_is_not_found(engine: Engine) -> None:
    world = PostgresWorld(engine)
    event = world.new_event(n_seats=1)
    req = request_for(world, event, event.seat_ids, str(uuid.uuid4()))

    with pytest.raises(DomainError) as err:
        world.store.confirm(req)

    assert err.value.code is ErrorCode.NOT_FOUND
    assert world.seat_states(event.event_id)[event.seat_ids[0]] == (SeatStatus.AVAILABLE, None)


@pytest.mark.parametrize("settled", ["void", "capture"])
def test_confirm_refuses_a_payment_no_longer_authorized(world: BookingWorld, settled: str) -> None:
    """A confirm attempt that lands after the saga voided (or already spent) the payment
    books nothing: the seats stay on sale and the checkout has no booking."""
    event = world.new_event(n_seats=2)
    req = request_for(world, event, event.seat_ids, world.new_user())
    assert req.payment_intent_id is not None
    getattr(world.payments, settled)(req.payment_intent_id, f"{settled}:{req.checkout_id}")

    with pytest.raises(DomainError) as err:
        world.store.confirm(req)

    assert err.value.code is ErrorCode.INVALID_PAYMENT_STATE
    assert not err.value.retryable
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}
    assert world.store.get_by_checkout(req.checkout_id) is None


def test_confirm_refuses_another_checkouts_or_an_unknown_payment(world: BookingWorld) -> None:
    event = world.new_event(n_seats=2)
    user = world.new_user()
    theirs = request_for(world, event, event.seat_ids[:1], user)
    borrowed = replace(
        request_for(world, event, event.seat_ids[1:], user),
        payment_intent_id=theirs.payment_intent_id,
    )
    unknown = replace(
        request_for(world, event, event.seat_ids[1:], user), payment_intent_id="pi_" + "0" * 24
    )

    for req in (borrowed, unknown):
        with pytest.raises(DomainError) as err:
            world.store.confirm(req)
        assert err.value.code is ErrorCode.INVALID_PAYMENT_STATE
        assert world.store.get_by_checkout(req.checkout_id) is None
    assert {state for state, _ in statuses(world, event).values()} == {SeatStatus.AVAILABLE}
