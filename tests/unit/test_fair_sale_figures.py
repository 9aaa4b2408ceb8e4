"""The fair sale's figures: order against queue position, ETA errors."""

from __future__ import annotations

from bench.fair_sale import Visit, discordant_pairs, eta_errors_pct, kendall_tau


def test_batches_admitted_in_order_are_perfectly_fair() -> None:
    positions = [1, 2, 3, 4, 5, 6]
    admitted_at = [10.0, 10.0, 10.0, 11.0, 11.0, 12.0]  # three ticks
    assert kendall_tau(positions, admitted_at) == 1.0
    assert discordant_pairs(positions, admitted_at) == 0


def test_one_buyer_admitted_out_of_turn_shows() -> None:
    positions = [1, 2, 3, 4]
    admitted_at = [10.0, 13.0, 11.0, 12.0]
    assert discordant_pairs(positions, admitted_at) == 2
    assert kendall_tau(positions, admitted_at) == round((4 - 2) / 6, 4)
    assert kendall_tau([1], [1.0]) is None


def test_eta_error_is_relative_to_the_actual_wait() -> None:
    on_time = Visit("a", first_seen=(100.0, 5, 10), admitted_at=110.0)
    late = Visit("b", first_seen=(100.0, 9, 10), admitted_at=120.0)
    instant = Visit("c", first_seen=(100.0, 1, 0), admitted_at=100.5)  # under a second: left out
    never = Visit("d", first_seen=(100.0, 900, 50))
    assert eta_errors_pct([on_time, late, instant, never]) == [0.0, 50.0]
