"""The saga's hold step on in-memory ports: the quote, then the locks, all or none."""

from __future__ import annotations

import time
from collections.abc import Sequence

from activities.checkout import CheckoutActivities, HoldInput
from adapters.fakes.payments import InMemoryPayments
from adapters.fakes.seat_locks import InMemorySeatLocks
from tests.factories import MemoryWorld

HOLD = 60


class NoSeatMap:
    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None:
        return None


def _step() -> tuple[CheckoutActivities, InMemorySeatLocks, MemoryWorld]:
    world, locks = MemoryWorld(), InMemorySeatLocks()
    acts = CheckoutActivities(
        locks=locks,
        catalog=world.catalog,
        bookings=world.store,
        payments=InMemoryPayments(),
        seat_map=NoSeatMap(),
        default_payment_token=None,
    )
    return acts, locks, world


def test_a_retried_step_retakes_its_own_locks() -> None:
    acts, locks, world = _step()
    event = world.new_event(n_seats=2)
    locks.acquire(event.event_id, event.seat_ids, "co-1", "u", 30)  # a lost first attempt

    out = acts.hold_seats(HoldInput("co-1", "u", event.event_id, event.seat_ids, HOLD))

    assert out.held and sorted(out.prices) == event.seat_ids
    assert {lk.lock_id for lk in locks.live_locks(event.event_id)} == {"co-1"}


def test_the_quotes_refusals_are_answers_and_take_no_lock() -> None:
    acts, locks, world = _step()
    draft = world.new_event(n_seats=1, status="DRAFT")
    unknown = world.new_event(n_seats=1)

    not_on_sale = acts.hold_seats(HoldInput("co-1", "u", draft.event_id, draft.seat_ids, HOLD))
    missing = acts.hold_seats(HoldInput("co-2", "u", unknown.event_id, [*draft.seat_ids], HOLD))

    assert not not_on_sale.held and not_on_sale.reason == "EVENT_NOT_ON_SALE"
    assert not missing.held and missing.reason == "NOT_FOUND" and missing.taken == []
    assert locks.live_locks(draft.event_id) == [] and locks.live_locks(unknown.event_id) == []


def test_the_step_acquires_for_the_hold_length() -> None:
    acts, locks, world = _step()
    event = world.new_event(n_seats=2)

    out = acts.hold_seats(HoldInput("co-1", "u", event.event_id, event.seat_ids, HOLD))

    assert out.held and out.expires_at is not None
    assert out.expires_at >= int(time.time()) + HOLD - 1
    assert {lk.lock_id for lk in locks.live_locks(event.event_id)} == {"co-1"}


def test_seats_someone_else_holds_are_refused_and_named() -> None:
    acts, locks, world = _step()
    event = world.new_event(n_seats=2)
    assert locks.acquire(event.event_id, event.seat_ids[:1], "co-other", "v", 30).acquired

    out = acts.hold_seats(HoldInput("co-1", "u", event.event_id, event.seat_ids, HOLD))

    assert not out.held and out.taken == event.seat_ids[:1]
    assert out.reason == "SEATS_UNAVAILABLE"


def test_seats_added_to_a_running_hold_expire_with_it() -> None:
    acts, locks, world = _step()
    event = world.new_event(n_seats=2)
    hold_ends = int(time.time()) + 20

    out = acts.hold_seats(
        HoldInput("co-1", "u", event.event_id, event.seat_ids[1:], HOLD, expires_at=hold_ends)
    )

    assert out.held and abs(out.expires_at - hold_ends) <= 1
    (lock,) = locks.live_locks(event.event_id)
    assert abs(lock.expires_at - hold_ends) <= 1
