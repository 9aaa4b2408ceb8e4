from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.checkout import (
    TERMINAL,
    TRANSITIONS,
    CheckoutStatus,
    IllegalTransition,
    can_transition,
    is_terminal,
    transition,
)

statuses = st.sampled_from(list(CheckoutStatus))


def _reachable(start: CheckoutStatus) -> set[CheckoutStatus]:
    seen = {start}
    queue = deque([start])
    while queue:
        for target in TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def test_every_status_has_a_row_and_targets_are_statuses() -> None:
    assert set(TRANSITIONS) == set(CheckoutStatus)
    for targets in TRANSITIONS.values():
        assert targets <= set(CheckoutStatus)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_states_have_no_exits(status: CheckoutStatus) -> None:
    assert is_terminal(status)
    assert TRANSITIONS[status] == frozenset()
    for target in CheckoutStatus:
        assert not can_transition(status, target)


@pytest.mark.parametrize("status", sorted(set(CheckoutStatus) - TERMINAL))
def test_every_non_terminal_state_can_reach_a_terminal_state(status: CheckoutStatus) -> None:
    assert not is_terminal(status)
    assert _reachable(status) & TERMINAL


def test_every_status_is_reachable_from_open() -> None:
    assert _reachable(CheckoutStatus.OPEN) == set(CheckoutStatus)


def test_compensation_ends_in_a_failure_state_never_confirmed() -> None:
    assert CheckoutStatus.CONFIRMED not in _reachable(CheckoutStatus.COMPENSATING)


@given(st.lists(st.integers(min_value=0), max_size=40))
def test_random_walk_of_legal_transitions_stays_in_the_graph(choices: list[int]) -> None:
    status = CheckoutStatus.OPEN
    for choice in choices:
        targets = sorted(TRANSITIONS[status])
        if not targets:
            assert is_terminal(status)
            break
        target = targets[choice % len(targets)]
        status = transition(status, target)
        assert status is target
        assert status in TRANSITIONS


@given(statuses, statuses)
def test_transition_agrees_with_can_transition(
    current: CheckoutStatus, target: CheckoutStatus
) -> None:
    if can_transition(current, target):
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(current, target)
        assert info.value.current is current
        assert info.value.target is target


def test_some_illegal_transitions() -> None:
    for current, target in [
        (CheckoutStatus.OPEN, CheckoutStatus.CONFIRMED),
        (CheckoutStatus.HELD, CheckoutStatus.CAPTURING),
        (CheckoutStatus.CONFIRMED, CheckoutStatus.COMPENSATING),
        (CheckoutStatus.FAILED, CheckoutStatus.OPEN),
    ]:
        with pytest.raises(IllegalTransition):
            transition(current, target)
