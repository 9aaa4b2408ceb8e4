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


def test_place_counts_people_ahead_and_reads_the_eta_from_the_forecast() -> None:
    now = 1_000_000
    # turns 1-5 come in a second, 6-10 in two; nothing beyond: no seat in sight
    plan = rules.Forecast(now, 5, ((now + 1000, 5), (now + 2000, 10)))
    assert rules.place(9, 0, plan, now) == rules.Place(10, 9, 2, now + 2000)
    assert rules.place(3, 4, plan, now) == rules.Place(4, 0, 0)  # admitted
    assert rules.place(4, 4, plan, now) == rules.Place(5, 0, 1, now + 1000)
    # seen a second after the forecast: a second less to wait, and at least one while waiting
    assert rules.place(9, 0, plan, now + 1000).eta_seconds == 1
    assert rules.place(0, 0, plan, now + 5000).eta_seconds == 1
    assert rules.place(10, 0, plan, now).eta_seconds is None  # beyond the seats in sight
    assert rules.place(100, 0, None, now).eta_seconds is None  # nothing forecast yet
    paused = rules.Forecast(now, 0, ((now + 1000, 5),))
    assert rules.place(1, 0, paused, now).eta_seconds is None


def test_seats_come_back_from_failed_payments_soon_and_abandoned_holds_at_expiry() -> None:
    now = 1_000_000
    how = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0.25, abandoned_share=0.5)
    unpaid = now + 20_000  # began 10 s ago, still held: not paid for, back at its expiry
    fresh = now + 28_000  # began 2 s ago: may still be paid
    returns = rules.expected_returns(now, 0, [unpaid, unpaid, fresh, fresh], how)
    # the fresh ones: a quarter when paid (3 s from now; held again, a quarter of that 5 s
    # later), half at their expiry; the two unpaid seats at their expiry (then held again:
    # 0.5 back 5 s later, 1.0 at +30 s)
    assert returns[:3] == [(now + 3_000, 0.5), (now + 8_000, 0.125), (unpaid, 2.0)]
    assert (fresh, 1.0) in returns and (unpaid + 5_000, 0.5) in returns
    assert all(at >= now for at, _ in returns) and returns == sorted(returns)
    # the seats available now are held by the next turns and come back in the same shares
    from_available = rules.expected_returns(now, 8, [], how)
    assert from_available[0] == (now + 5_000, 2.0) and (now + 30_000, 4.0) in from_available
    # nothing comes back when nobody fails nor abandons
    none = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0, abandoned_share=0)
    assert rules.expected_returns(now, 8, [fresh], none) == []
    assert rules.returning_within(returns, now, 3_000) == 0  # half a seat is no seat
    assert rules.returning_within(returns, now, 20_000) == 2


def test_the_failed_share_is_measured_on_the_sales_answered_payments() -> None:
    how = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0.1, abandoned_share=0.2)
    # nothing answered yet: the configured share (of the seats held; of those paying, 0.125)
    assert rules.measured_returns(how, 0, 0).failed_share == pytest.approx(0.1)
    # a fifth of 1,000 paying seats declined: the prior's 50 seats barely move it
    declined = rules.measured_returns(how, 200, 800)
    share = (200 + 0.125 * rules.PRIOR_TURNS) / (1000 + rules.PRIOR_TURNS) * 0.8
    assert declined.failed_share == pytest.approx(share)
    assert declined.abandoned_share == 0.2 and declined.hold_ms == how.hold_ms
    # none declined of a few: the share falls, from the prior, as they come
    assert 0 < rules.measured_returns(how, 0, 50).failed_share < 0.1
    assert (
        rules.measured_returns(how, 0, 50).failed_share
        > rules.measured_returns(how, 0, 500).failed_share
    )
    # everyone abandons: nobody pays, the configured shares stand
    nobody_pays = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0, abandoned_share=1)
    assert rules.measured_returns(nobody_pays, 3, 0) == nobody_pays


def test_payments_count_once_every_one_submitted_with_them_is_answered() -> None:
    # (the second submitted, seats paid, seats declined): declines are answered at once and
    # approvals later, so the latest seconds read mostly declines until they settle
    answered = [(100, 9, 1), (101, 8, 2), (102, 0, 3)]
    assert rules.settled_payments(answered, 103_000, 0) == (6, 17)
    assert rules.settled_payments(answered, 112_000, 10_000) == (3, 17)  # 102 not settled
    assert rules.settled_payments(answered, 110_999, 10_000) == (0, 0)  # nor 100, yet
    assert rules.settled_payments([], 200_000, 0) == (0, 0)


def test_a_buyer_holds_after_the_median_wait_of_the_turns_that_hold() -> None:
    prior = 4000
    assert rules.hold_after_ms(None, 30_000, prior) == prior  # nothing read yet: the guess
    # every turn held, three in four within 2.1 s (within the guess): half within 1.1 s
    delays = [(625, 30), (1125, 25), (2125, 25), (9875, 20)]
    first = rules.FirstHolds.read(delays, [], 0, 30_000)
    assert rules.hold_after_ms(first, 30_000, prior) == 1125
    reverse = rules.FirstHolds.read(list(reversed(delays)), [], 0, 30_000)
    assert rules.hold_after_ms(reverse, 30_000, prior) == 1125  # in any order
    # later than the guess, on a slow platform
    slow = rules.FirstHolds.read([(6125, 60), (12125, 40)], [], 0, 30_000)
    assert rules.hold_after_ms(slow, 30_000, prior) == 6125


def test_the_guess_is_the_least_wait_until_most_turns_are_seen_to_hold_within_it() -> None:
    prior = 10_000
    # An opening's first seconds: 15 of 60 turns held within 2 s, the other 45 (given 1-5.4 s
    # ago) not yet. The median read from them is 3.4 s; the turns are not seen to hold within
    # the guess, so it stands.
    ages = [1000 + 100 * i for i in range(45)]
    crush = rules.FirstHolds.read([(875, 5), (1375, 5), (1875, 5)], ages, 0, 30_000)
    assert crush is not None and crush.median_ms(30_000) == 3372
    assert crush.seen_held_ms(rules.MOST_HOLD, 30_000) is None
    assert rules.hold_after_ms(crush, 30_000, prior) == prior
    # Most seen within the guess: the median (three in four held by 8.1 s)...
    most = rules.FirstHolds.read([(4125, 60), (8125, 15), (20125, 25)], [], 0, 30_000)
    assert rules.hold_after_ms(most, 30_000, prior) == 4125
    # ...but not when the last quarter hold only at 20 s.
    tail = rules.FirstHolds.read([(4125, 60), (20125, 40)], [], 0, 30_000)
    assert tail is not None and tail.median_ms(30_000) == 4125
    assert rules.hold_after_ms(tail, 30_000, prior) == prior
    # A platform that keeps up: 40 of 50 held within 2.9 s (the 10 unused given under a second
    # ago): its own median.
    quick = rules.FirstHolds.read(
        [(875, 15), (1875, 15), (2875, 10)],
        [500, 600, 700, 800, 900, 950, 980, 990, 995, 999],
        0,
        30_000,
    )
    assert rules.hold_after_ms(quick, 30_000, prior) == 1875
    # Slower than the guess, seen: the median itself.
    slow = rules.FirstHolds.read([(8125, 30), (12125, 40), (20125, 30)], [], 0, 30_000)
    assert rules.hold_after_ms(slow, 30_000, prior) == 12125


def test_returned_seats_are_followed_a_few_holds_ahead_and_no_further() -> None:
    now = 1_000_000
    how = rules.Returns(hold_seconds=10, pay_seconds=10, failed_share=0, abandoned_share=1.0)
    returns = rules.expected_returns(now, 1, [], how)
    assert returns == [(now + 10_000 * g, 1.0) for g in range(1, rules.RETURN_GENERATIONS + 1)]


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
    assert rules.accrue(0, 10, 3600) == 10 * rules.CREDIT_SECONDS  # a pause is no burst


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
    # no turn in sight: by the people ahead
    assert rules.poll_after_ms(None, ahead=3) == 2000
    assert rules.poll_after_ms(None, ahead=100) == 5000
    assert rules.poll_after_ms(None, ahead=5000) == 15_000
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


def test_a_turns_seats_start_at_the_prior_and_follow_the_sales_own_turns() -> None:
    assert rules.seats_per_turn(0, 0, 2.5) == 2.5
    few = rules.seats_per_turn(2 * 3, 3, 2.5)  # three turns of two seats barely move it
    assert 2.0 < few < 2.5 and few > 2.4
    many = rules.seats_per_turn(2 * 500, 500, 2.5)  # five hundred make it theirs
    assert 2.0 < many < 2.05


def test_the_lost_share_is_measured_over_the_turns_whose_deadline_passed() -> None:
    assert rules.lost_share(0, 0, 0.1) == 0.1  # nothing decided yet: the guess
    # Turns used early are not yet decided: a sale with few turns ended still leans on the
    # guess, whatever the turns used so far say.
    assert rules.lost_share(0, 5, 0.1) > 0.09
    half = rules.lost_share(250, 500, 0.1)  # half of five hundred ended turns were lost
    assert 0.45 < half < 0.5
    assert rules.lost_share(0, 10_000, 0.1) < 0.001
    assert rules.lost_share(10, 5, 1.0) == 1.0  # never more than every turn


def test_the_seats_available_now_are_held_and_come_back_at_the_pace() -> None:
    now = 1_000_000
    how = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0, abandoned_share=0.5)
    # 8 seats, 4 taken a second: half held now, half a second later; half of each comes back
    # at its hold's expiry
    returns = rules.expected_returns(now, 8, [], how, seats_per_second=4)
    assert returns[:2] == [(now + 30_000, 2.0), (now + 31_000, 2.0)]
    # no pace given: all held now, as before
    assert rules.expected_returns(now, 8, [], how)[0] == (now + 30_000, 4.0)
    # a slow pace over many seats is followed in at most MAX_PACE_LOTS lots
    slow = rules.expected_returns(now, 100_000, [], how, seats_per_second=0.5)
    first_generation = [r for r in slow if r[0] < now + 2 * 30_000 + 1]
    assert len({at for at, _ in slow}) <= rules.MAX_PACE_LOTS * rules.RETURN_GENERATIONS
    assert first_generation[0] == (now + 30_000, 100_000 / rules.MAX_PACE_LOTS / 2)


def test_the_first_tick_credits_the_time_since_the_opening() -> None:
    assert rules.opening_elapsed_s(10_000, None) == 1.0
    assert rules.opening_elapsed_s(10_500, 10_000) == 1.5  # seen half a second late
    assert rules.opening_elapsed_s(9_000, 10_000) == 1.0  # a clock a little behind


def unused_at_end(delays: list[tuple[int, int]], ages: list[int], lost: int = 0) -> float:
    first = rules.FirstHolds.read(delays, ages, lost, 30_000)
    assert first is not None
    return first.unused_at(30_000)


def test_the_share_left_unused_is_read_from_the_first_seconds() -> None:
    # Too few first holds to read anything from, or too few turns: the guess stands.
    assert rules.FirstHolds.read([(1_000, 4)], [500] * 50, 0, 30_000) is None
    assert rules.FirstHolds.read([(1_000, 6)], [], 0, 30_000) is None
    # A quick platform: of 100 turns given 8 s ago, 90 held within 4 s; the share unused falls
    # fast, and next to none is left by the turn's end.
    quick = [(500, 30), (1_500, 30), (2_500, 20), (3_500, 10)]
    assert unused_at_end(quick, [8_000] * 10) < 0.01
    # A slow one: 20 of 100 held between 6 and 8 s; turns trickle in, and many end unused.
    assert 0.1 < unused_at_end([(6_500, 10), (7_500, 10)], [8_000] * 80) < 0.5
    # The unused turns are censored, not lost: 20 held in the first second of 20 given then,
    # and 80 more given just now (unused, 100 ms old) do not read as left unused.
    assert unused_at_end([(500, 20)], [100] * 80) < 0.05
    # Turns lost at their end count as never used.
    assert unused_at_end(quick, [8_000] * 10, lost=50) > unused_at_end(quick, [8_000] * 10)


def test_the_lost_share_is_read_where_a_quarter_of_the_turns_are_still_at_risk() -> None:
    # 100 turns given 20 s ago: 40 held at 2 s, 20 at 4 s, 10 at 6 s, 10 at 8 s, 5 at 10 s, and
    # 15 are still unused. At risk at each: 100, 60, 40, 30, 20.
    delays = [(2_000, 40), (4_000, 20), (6_000, 10), (8_000, 10), (10_000, 5)]
    full = rules.FirstHolds.read(delays, [20_000] * 15, 0, 30_000)
    tail = rules.FirstHolds.read(delays, [20_000] * 15, 0, 30_000, rules.LOST_SHARE_AT_RISK)
    assert full is not None and tail is not None
    assert [ms for ms, _ in full.points] == [0, 2_000, 4_000, 6_000, 8_000, 10_000]
    # the 10 s step rests on 20 turns, fewer than a quarter: the lost share is carried from 8 s
    assert tail.points == full.points[:5]
    assert tail.unused_at(8_000) == full.unused_at(8_000) == pytest.approx(0.2)


def test_the_wait_for_a_first_hold_counts_the_turns_not_used_yet() -> None:
    # Early in a sale only the quickest have held: 20 held within 2 s, 80 given 3 s ago have
    # not yet. The delays alone would put the median at 1 s; read with the unused turns, half
    # of those that will hold have not by 3 s.
    early = rules.FirstHolds.read([(1_000, 10), (2_000, 10)], [3_000] * 80, 0, 30_000)
    assert early is not None
    assert 3_000 < early.median_ms(30_000) <= 30_000
    # and within the turn, however slow the trickle
    trickle = rules.FirstHolds.read([(5_000, 5)], [6_000] * 95, 0, 30_000)
    assert trickle is not None and trickle.median_ms(30_000) <= 30_000


def test_the_saga_falls_behind_when_its_holds_are_slower_than_the_target() -> None:
    assert not rules.falling_behind(None, 2000)  # not measured: as it comes
    assert not rules.falling_behind(1500, 2000)
    assert rules.falling_behind(2500, 2000)


@pytest.mark.parametrize(
    ("given_ms", "deadline_ms"),
    [(10_000, 40_000), (10_001, 41_000), (10_999, 41_000), (0, 30_000)],
)
def test_a_turn_ends_on_a_whole_second_no_sooner_than_it_was_told(
    given_ms: int, deadline_ms: int
) -> None:
    assert rules.turn_deadline_ms(given_ms, 30) == deadline_ms
    assert rules.turn_deadline_ms(given_ms, 30) - given_ms >= 30_000


def test_the_pre_queue_asks_at_the_opening_front_first() -> None:
    ask = rules.pre_queue_poll_after_ms
    opens = 1_000_000
    # long before the opening: at the usual ceiling (the opening may be moved)
    assert ask(opens - 3_600_000, opens, 0) == 15_000
    # within the ceiling: at the opening, each place a millisecond after the one before it
    assert ask(opens - 10_000, opens, 0) == 10_000
    assert ask(opens - 10_000, opens, 2_500) == 12_500
    assert ask(opens - 10_000, opens, 2_501) > ask(opens - 10_000, opens, 2_500)
    # the opening passed and the sale has not opened yet: soon, still front first
    assert ask(opens + 5_000, opens, 0) == 1000
    assert ask(opens + 5_000, opens, 300) == 1300
    # no opening time (the organizer's switch): soon
    assert ask(opens, None, 0) == 1000
    # a crowd larger than the spread: the back asks within the ceiling after the opening
    assert ask(opens - 10_000, opens, 1_000_000) == 25_000
