"""The fair sale's figures: order against queue position, ETA errors, the room's cost; the
crowd's CPU reading."""

from __future__ import annotations

import os

import pytest

from bench.__main__ import room_cost
from bench.fair_sale import (
    Visit,
    calls_by_phase,
    discordant_pairs,
    eta_errors_pct,
    eta_missing,
    kendall_tau,
    kendall_tau_b,
)
from bench.queue_crowd import cpu_seconds


def test_batches_admitted_in_order_are_perfectly_fair() -> None:
    positions = [1, 2, 3, 4, 5, 6]
    admitted_at = [10.0, 10.0, 10.0, 11.0, 11.0, 12.0]  # three batches
    assert kendall_tau(positions, admitted_at) == 1.0
    assert discordant_pairs(positions, admitted_at) == 0
    # tau-b counts the 4 pairs inside the batches as ties against the room
    assert kendall_tau_b(positions, admitted_at) == round(11 / (15 * 11) ** 0.5, 4)


def test_one_buyer_admitted_out_of_turn_shows() -> None:
    positions = [1, 2, 3, 4]
    admitted_at = [10.0, 13.0, 11.0, 12.0]
    assert discordant_pairs(positions, admitted_at) == 2
    assert kendall_tau(positions, admitted_at) == round((4 - 2) / 6, 4)
    assert kendall_tau([1], [1.0]) is None


def test_a_batch_that_skips_someone_ahead_is_unfair_though_its_own_pairs_are_ties() -> None:
    # position 2 is admitted in the second batch, after 3 and 4 of the first
    positions = [1, 3, 4, 2]
    admitted_at = [10.0, 10.0, 10.0, 11.0]
    assert discordant_pairs(positions, admitted_at) == 2
    assert kendall_tau(positions, admitted_at) == round((1 - 2) / 3, 4)


def test_eta_error_is_relative_to_the_actual_wait() -> None:
    on_time = Visit("a", first_seen=(100.0, 5, 10.0), first_eta_s=10, admitted_at=110.0)
    late = Visit("b", first_seen=(100.0, 9, 10.0), first_eta_s=10, admitted_at=120.0)
    instant = Visit("c", first_seen=(100.0, 1, 0.2), admitted_at=100.5)  # under a second: out
    never = Visit("d", first_seen=(100.0, 900, 50.0))
    unknown = Visit("e", first_seen=(100.0, 300, None), admitted_at=140.0)  # told no ETA
    visits = [on_time, late, instant, never, unknown]
    assert eta_errors_pct(visits) == [0.0, 50.0]
    assert eta_missing(visits) == 1  # left out of the errors, but counted
    # the forecast's own time counts, not its display in whole seconds (told 1 s for 1.4 s)
    rounded = Visit("f", first_seen=(100.0, 2, 1.45), first_eta_s=1, admitted_at=101.5)
    assert eta_errors_pct([rounded]) == [pytest.approx(100 * 0.05 / 1.5)]
    assert eta_errors_pct([rounded], whole_seconds=True) == [pytest.approx(100 * 0.5 / 1.5)]


def test_the_room_is_compared_like_for_like_with_the_sale_without_it() -> None:
    fair = {"seats_sold_at_s": [1.0, 2.0, 3.0, 40.0]}
    cost = room_cost(fair, {"seats_sold": 3, "sale_seconds": 12.5})
    assert cost == {
        "sale_seconds_without_room": 12.5,
        "seats_sold_without_room": 3,
        "seconds_to_sell_as_many_as_without_room": 3.0,
    }
    assert "seats_sold_at_s" not in fair  # the list itself is not reported
    assert (
        room_cost({}, {"seats_sold": 3, "sale_seconds": 1.0})[
            "seconds_to_sell_as_many_as_without_room"
        ]
        is None
    )


def test_calls_by_phase_counts_each_phase_s_calls_and_their_waits() -> None:
    opened = 1000.0
    calls = [(999.0, 5.0, 50.0, "join")] + [
        (opened + 0.1 * i, float(i), 10.0 * i, "status") for i in range(1, 11)
    ]
    calls.append((opened + 12.0, 0.0, 7.0, "status"))
    rows = calls_by_phase(calls, opened, seconds=10.0)
    assert [row["from_s"] for row in rows] == [None, 0.0, 10.0]
    assert rows[0]["queued_p50_ms"] == 5 and rows[0]["per_s"] is None
    assert rows[1]["per_s"] == 1.0 and rows[1]["call_p90_ms"] >= 90
    assert rows[2]["call_p50_ms"] == 7
    assert rows[1]["calls"] == {"status": 10}


def test_a_process_cpu_is_read_from_proc_and_only_grows() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(200_000))
    assert 0 < before <= cpu_seconds(os.getpid())
