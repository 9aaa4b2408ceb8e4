"""What the room's forecast reads from the sale (adapters/waiting_room_service.py,
``room_forecast``): the saga's hold latency, and the first holds and unused turns."""

from __future__ import annotations

from adapters.waiting_room_service import room_forecast
from config.settings import Settings
from domain import waiting_room as rules

NOW = 1_700_000_000_000
SETTINGS = Settings(
    waiting_room_hold_latency_target_ms=2000,
    waiting_room_lost_share=0.1,
    waiting_room_hold_after_seconds=4,
)
NOBODY_RETURNS = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0, abandoned_share=0)


def forecast(**given: object) -> rules.Forecast:
    inputs: dict[str, object] = {
        "now_ms": NOW,
        "rate": 20.0,
        "credit": 0.0,
        "available": 1000,
        "held_expiries_ms": [],
        # 200 turns given over the last 5 s, not used yet
        "unused_deadlines_ms": [NOW - 5_000 + 25 * k + 30_000 for k in range(200)],
        "used": (0, 0, 2.5),
        "ended": (0, 0),
        "sellable_seats": 1000,
        "waiting": 2_000,
        "how": NOBODY_RETURNS,
    }
    return room_forecast(SETTINGS, **(inputs | given))  # type: ignore[arg-type]


def turn_s(plan: rules.Forecast, turn: int) -> float:
    at = plan.turn_ms(turn)
    assert at is not None
    return (at - NOW) / 1000


def test_turns_come_later_while_the_saga_falls_behind_its_holds() -> None:
    # 200 turns given just now, seats for them alone; half of what they hold comes back 5 s
    # after the hold (payments declined). Keeping up, they all hold at the soonest (+4 s) and
    # the next turns come for the seats coming back soon after; falling behind (holds slower
    # than the target), the saga takes them one after another, and the seats come back later.
    half_back = rules.Returns(hold_seconds=30, pay_seconds=5, failed_share=0.5, abandoned_share=0)
    given = {"available": 500, "unused_deadlines_ms": [NOW + 30_000] * 200, "how": half_back}
    keeping_up = forecast(hold_latency_ms=500.0, **given)
    behind = forecast(hold_latency_ms=4_000.0, **given)
    assert forecast(**given).steps == keeping_up.steps  # not measured yet: holds as they come
    assert turn_s(keeping_up, 1) == turn_s(behind, 1) == 4.0
    assert turn_s(keeping_up, 100) < turn_s(behind, 100)


def test_turns_come_sooner_when_the_first_holds_say_few_turns_go_unused() -> None:
    # Of 300 turns given 10 s ago, 280 held within 3 s: next to none will end unused, so
    # fewer turns keep their place until their end than the guess (a tenth) says, and once
    # the seats bound the admissions the next turns come sooner.
    quick = ((500, 100), (1_500, 120), (2_500, 60))
    old = [NOW - 10_000 + 30_000] * 20
    sale = {"unused_deadlines_ms": old, "used": (280, 700, 2.5), "available": 300}
    measured = forecast(hold_delays_ms=quick, **sale)
    guessed = forecast(**sale)
    assert turn_s(measured, 100) == turn_s(guessed, 100)  # seats for them: at the pace
    assert turn_s(measured, 150) < turn_s(guessed, 150)
