"""The forecast: the room's admission rule played forward (domain/waiting_room_forecast.py)."""

from __future__ import annotations

from collections.abc import Callable

from domain import waiting_room as rules
from domain.waiting_room_forecast import MAX_STEPS, Turns, play_forward

NOW = 1_700_000_000_000
NOBODY_RETURNS = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0, abandoned_share=0)
PLENTY = Turns(seats=2.0, hold_after_ms=1000, turn_ms=30_000)


def etas(plan: rules.Forecast, buyers: int) -> list[int | None]:
    return [rules.place(rank, 0, plan, NOW).eta_seconds for rank in range(buyers)]


def forward(
    available: int,
    rate: float = 10,
    credit: float = 0.0,
    held: list[int] | None = None,
    unused: list[int] | None = None,
    total: int = 10,  # seats plentiful unless said otherwise
    turns: Turns = PLENTY,
    how: rules.Returns = NOBODY_RETURNS,
    waiting: int = 10_000,
    tick_ms: int = 250,
    unused_at: Callable[[int], float] | None = None,
) -> rules.Forecast:
    return play_forward(
        NOW,
        rate,
        credit,
        available,
        held or [],
        unused or [],
        total,
        (0, 0, turns.seats),
        how,
        turns,
        5_000,
        waiting,
        tick_ms,
        unused_at,
    )


def test_with_seats_for_everyone_turns_come_at_the_pace() -> None:
    plan = forward(1000, rate=5)
    assert etas(plan, 25)[4] == 1 and etas(plan, 25)[9] == 2 and etas(plan, 25)[24] == 5
    # the opening starts with a second's worth of credit: the first five have their turn now
    opening = forward(1000, rate=5, credit=5)
    assert opening.steps[0][0] == NOW and opening.steps[0][1] >= 5
    assert etas(opening, 10)[9] == 1 and etas(plan, 10)[9] == 2


def test_turns_come_at_the_ticks_however_far_apart_they_come() -> None:
    # at 4 a second, the first turn is due a quarter second from now: at the next tick
    assert forward(1000, rate=4).turn_ms(1) == NOW + 250
    # a busy process ticks a second apart: the turns due meanwhile all come at that tick
    busy = forward(1000, rate=4, tick_ms=1000)
    assert [busy.turn_ms(turn) for turn in (1, 4, 5)] == [NOW + 1000] * 2 + [NOW + 2000]
    assert forward(1000, rate=4, tick_ms=60_000).turn_ms(1) == NOW + 2000  # within bounds


def test_no_more_turns_than_the_seats_can_serve_nor_buyers_waiting() -> None:
    # 10 seats at 2 a turn: five turns, then nothing comes back: no ETA
    assert etas(forward(10), 7)[4] is not None and etas(forward(10), 7)[5:] == [None, None]
    assert etas(forward(1000, waiting=3), 4)[3] is None  # nobody behind the third to admit


def test_later_turns_wait_for_held_seats_to_come_back_ahead_by_the_lead() -> None:
    unpaid = NOW + 10_000  # held for 20 s of 30, not paid for: back at its expiry
    plan = forward(0, held=[unpaid] * 4)
    # two turns for the four seats, admitted the 5 s lead before they are back
    assert etas(plan, 3) == [5, 5, None]


def test_an_unused_turn_holds_its_seats_before_the_next_buyer_gets_them() -> None:
    # four seats at two a turn, two buyers admitted just now: no turn for a third
    assert etas(forward(4, unused=[NOW, NOW]), 1) == [None]
    assert etas(forward(6, unused=[NOW, NOW]), 2) == [1, None]  # two seats more: one turn
    # a failed payment gives its seats back 5 s after the hold (+1 s): a turn at +6 s, the
    # 5 s lead ahead of it
    failing = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0.5, abandoned_share=0)
    assert etas(forward(4, unused=[NOW, NOW], how=failing), 1) == [1]


def test_the_last_seats_serve_more_turns_than_plentiful_ones() -> None:
    # 100 seats at 2.5 a turn: 40 turns if they all went as while plentiful; more as they run
    # out, and more still when they are the event's last fiftieth (single seats, returned runs)
    whole_event = forward(100, total=100, turns=Turns(2.5, 1000, 30_000))
    last_seats = forward(100, total=5000, turns=Turns(2.5, 1000, 30_000))
    served = [sum(eta is not None for eta in etas(p, 200)) for p in (whole_event, last_seats)]
    assert 40 < served[0] < served[1]


def test_what_a_turn_takes_falls_as_the_seats_run_out() -> None:
    turns = Turns(seats=3.0, hold_after_ms=0, turn_ms=30_000)
    assert turns.seats_at(500, 1000) == 3.0  # plentiful: what buyers take
    assert turns.seats_at(150, 1000) == 1.85  # shorter runs
    assert turns.seats_at(50, 1000) == 1.1  # single seats between others' holds
    assert turns.seats_at(10, 1000) == 1.45  # none but what comes back: a returned hold's run
    assert Turns(1.5, 0, 30_000).seats_at(150, 1000) == 1.5  # never more than when plentiful
    assert turns.seats_at(0.5, 1000) == 0.0  # no whole seat: nothing to take
    assert turns.seats_at(1.2, 1000) <= 1.2  # never more than is left


def test_a_busy_platform_takes_first_holds_one_after_another() -> None:
    # 10 seats, five turns given just now, each hold giving back half its seats 5 s later: on
    # an idle platform the five hold at once (+1 s) and the next turn comes as soon as their
    # returns are within the lead; a platform taking 2 holds a second reaches the fifth only
    # at +3 s, so the returns, and the next turns, come later.
    failing = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0.5, abandoned_share=0)
    busy = Turns(seats=2.0, hold_after_ms=1000, turn_ms=30_000, holds_per_s=2.0)
    given = [NOW] * 5
    idle = forward(10, unused=given, how=failing, waiting=3)
    slow = forward(10, unused=given, how=failing, turns=busy, waiting=3)
    idle_at, slow_at = idle.turn_ms(2), slow.turn_ms(2)
    assert idle_at is not None and slow_at is not None and idle_at < slow_at


def test_a_turn_the_busy_platform_cannot_reach_in_time_ends_unused() -> None:
    # 40 turns given 29 s ago, 100 seats at 2 a turn. If they all hold now, 20 seats are left:
    # 10 turns more, then none. A platform taking one hold a second reaches one of them before
    # they end: the other 39 end unused, and their seats serve the turns after them.
    given = [NOW - 29_000] * 40
    idle = forward(100, unused=given, turns=Turns(2.0, 0, 30_000))
    slow = forward(100, unused=given, turns=Turns(2.0, 0, 30_000, holds_per_s=1.0))
    assert etas(idle, 11)[10] is None
    assert etas(slow, 40)[39] is not None


def test_turns_whose_buyer_never_comes_end_unused_and_free_their_place() -> None:
    # 10 seats at 2 a turn, five turns given just now. If every buyer comes, the seats serve
    # nobody after them; if one in five never comes, one turn ends unused at its deadline
    # (+30 s) and its seats serve a turn after it, the 5 s lead ahead.
    given = [NOW] * 5
    everyone = forward(10, unused=given)
    some_leave = forward(10, unused=given, turns=Turns(2.0, 1000, 30_000, lost_share=0.2))
    assert etas(everyone, 1) == [None]
    assert etas(some_leave, 2) == [30, None]
    # given one at a time, the share is kept, not rounded away turn by turn
    one_by_one = [NOW - k for k in range(5)]
    spread = forward(10, unused=one_by_one, turns=Turns(2.0, 1000, 30_000, lost_share=0.2))
    assert etas(spread, 2) == [30, None]


def test_a_turn_still_unused_late_in_its_time_is_likelier_lost_than_a_new_one() -> None:
    # 10 seats at 2 a turn, five turns unused. One in five of all turns is lost, and only half
    # of all turns are still unused at twenty seconds: of the five given twenty seconds ago,
    # two in five are lost (0.2 / 0.5), and their seats serve two turns after them at their
    # deadline, ten seconds from now; given just now, one in five, at thirty seconds.
    def half_unused_at_20s(age_ms: int) -> float:
        return 1.0 if age_ms < 20_000 else 0.5

    turns = Turns(2.0, 1000, 30_000, lost_share=0.2)
    old = [NOW - 20_000] * 5
    aged = forward(10, unused=old, turns=turns, unused_at=half_unused_at_20s)
    assert etas(aged, 3) == [10, 10, None]
    fresh = forward(10, unused=[NOW] * 5, turns=turns, unused_at=half_unused_at_20s)
    assert etas(fresh, 2) == [30, None]
    # without the ages read, every unused turn is as likely lost as any: one in five
    assert etas(forward(10, unused=old, turns=turns), 2) == [10, None]


def test_an_unused_turn_is_lost_at_most_surely() -> None:
    assert rules.lost_if_unused(0.2, 1.0) == 0.2  # a turn just given: as any turn
    assert rules.lost_if_unused(0.2, 0.4) == 0.5
    assert rules.lost_if_unused(0.2, 0.2) == 1.0  # only the lost are left unused that late
    assert rules.lost_if_unused(0.2, 0.1) == 1.0


def test_a_forecast_survives_its_redis_field_and_stays_short() -> None:
    plan = forward(100_000, rate=1)
    assert rules.Forecast.decode(plan.encode()) == plan
    assert len(plan.steps) <= MAX_STEPS
    assert rules.Forecast.decode("") is None and rules.Forecast.decode("garbage") is None
