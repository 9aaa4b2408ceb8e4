"""The waiting room's pure rules: order, places, pace, admissions, and the admission token."""

from __future__ import annotations

import random
import time
import uuid

import pytest

from domain import waiting_room as rules
from domain.tickets import TicketSigner
from domain.waiting_room import Pace, QueueState
from domain.waiting_room_admission import Admission, AdmissionSigner

SECRET = "unit-test-secret-of-at-least-32-characters"
PACE = Pace(floor=20, ceiling=200, headroom=1.5, latency_target_ms=2000)


def test_pre_queue_is_shuffled_and_arrivals_after_it_keep_their_order() -> None:
    rng = random.Random(3)
    early = [f"early-{i}" for i in range(30)]
    keys = {buyer: rules.pre_queue_key(rng.random()) for buyer in early}
    late = [f"late-{i}" for i in range(5)]
    keys |= {buyer: rules.arrival_key(n) for n, buyer in enumerate(late, start=1)}
    order = rules.queue_order(keys)
    assert order[30:] == late  # arrival order after the opening
    assert sorted(order[:30]) == sorted(early) and order[:30] != early  # shuffled, all there


def test_keys_are_validated() -> None:
    with pytest.raises(ValueError):
        rules.pre_queue_key(1.0)
    with pytest.raises(ValueError):
        rules.arrival_key(0)
    assert rules.arrival_key(2**40) > rules.arrival_key(2**40 - 1)


def test_place_counts_people_ahead_and_the_eta_at_the_pace() -> None:
    assert rules.place(rank=9, admitted=0, admissions_per_s=5) == rules.Place(10, 9, 2)
    assert rules.place(rank=3, admitted=4, admissions_per_s=5) == rules.Place(4, 0, 0)
    assert rules.place(rank=4, admitted=4, admissions_per_s=2) == rules.Place(5, 0, 1)
    assert rules.place(rank=100, admitted=0, admissions_per_s=0).eta_seconds is None


def test_rate_follows_completions_within_floor_and_ceiling() -> None:
    assert rules.next_rate(0, None, PACE) == 20  # nothing measured yet: the floor
    assert rules.next_rate(40, 500, PACE) == 60  # headroom over what completes
    assert rules.next_rate(1000, None, PACE) == 200  # the operator's ceiling
    # holds twice as slow as the target halve it
    assert rules.next_rate(40, 4000, PACE) == 30


def test_admissions_are_bounded_by_credit_seats_and_the_queue() -> None:
    assert rules.admissions_now(credit=5.7, capacity=100, outstanding=0, waiting=50) == 5
    assert rules.admissions_now(credit=50, capacity=10, outstanding=8, waiting=50) == 2
    assert rules.admissions_now(credit=50, capacity=10, outstanding=12, waiting=50) == 0
    assert rules.admissions_now(credit=50, capacity=100, outstanding=0, waiting=3) == 3
    assert rules.seat_capacity(0, 2.5) == 0
    assert rules.seat_capacity(1, 2.5) == 1  # a lone seat still sells
    assert rules.seat_capacity(100, 2.5) == 40


def test_credit_never_bursts_after_a_pause() -> None:
    assert rules.accrue(0, 10, 0.5) == 5
    assert rules.accrue(0, 10, 3600) == 10  # one second's worth at most


def test_buyer_state() -> None:
    now = 1_000_000
    state = rules.buyer_state
    assert state("SCHEDULED", 5, 0, None, False, False, now) == QueueState.PRE_QUEUE
    assert state("ON_SALE", 5, 3, None, False, True, now) == QueueState.WAITING
    assert state("ON_SALE", 2, 3, now + 1, False, True, now) == QueueState.ADMITTED
    assert state("ON_SALE", 2, 3, now, False, True, now) == QueueState.TURN_EXPIRED
    assert state("ON_SALE", 2, 3, now + 1, True, True, now) == QueueState.TURN_EXPIRED
    assert state("ON_SALE", None, 3, None, False, True, now) == QueueState.NOT_QUEUED
    assert state("SOLD_OUT", 5, 3, None, False, True, now) == QueueState.SOLD_OUT
    assert state("CANCELLED", 5, 3, None, False, True, now) == QueueState.CLOSED


def test_poll_interval_grows_with_the_wait() -> None:
    assert rules.poll_after_ms(0) == 1000
    assert rules.poll_after_ms(20) == 5000
    assert rules.poll_after_ms(3600) == 15_000


def test_an_admission_is_bound_to_its_user_event_and_time() -> None:
    signer = AdmissionSigner(SECRET)
    user, event = str(uuid.uuid4()), str(uuid.uuid4())
    token = signer.issue(Admission(user, event, 7, int(time.time()) + 60))
    assert signer.admits(token, user, event)
    assert signer.read(token) == Admission(user, event, 7, signer.read(token).expires_at)  # type: ignore[union-attr]
    assert not signer.admits(token, str(uuid.uuid4()), event)
    assert not signer.admits(token, user, str(uuid.uuid4()))
    assert not AdmissionSigner(SECRET + "x").admits(token, user, event)
    expired = signer.issue(Admission(user, event, 7, int(time.time()) - 1))
    assert not signer.admits(expired, user, event)
    assert not signer.admits(None, user, event) and not signer.admits("x" * 600, user, event)


def test_an_admission_is_not_a_ticket_nor_a_ticket_an_admission() -> None:
    signer = AdmissionSigner(SECRET)
    ticket = TicketSigner(SECRET)
    user, event = str(uuid.uuid4()), str(uuid.uuid4())
    token = signer.issue(Admission(user, event, 1, int(time.time()) + 60))
    assert ticket.read(token) is None
