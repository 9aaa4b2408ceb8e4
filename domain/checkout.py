"""The checkout state machine: which transitions are legal. Pure; the workflow consults it."""

from __future__ import annotations

from enum import StrEnum


class CheckoutStatus(StrEnum):
    OPEN = "OPEN"  # started, first hold not answered yet
    HELD = "HELD"  # seats held, waiting for payment, cancel or expiry
    AUTHORIZING = "AUTHORIZING"
    CONFIRMING = "CONFIRMING"
    CAPTURING = "CAPTURING"
    COMPENSATING = "COMPENSATING"  # undoing completed steps after a failure
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


TERMINAL = frozenset(
    {
        CheckoutStatus.CONFIRMED,
        CheckoutStatus.FAILED,
        CheckoutStatus.CANCELLED,
        CheckoutStatus.EXPIRED,
    }
)

_S = CheckoutStatus
TRANSITIONS: dict[CheckoutStatus, frozenset[CheckoutStatus]] = {
    # OPEN -> COMPENSATING: a first hold that failed may have half-happened; release anyway
    _S.OPEN: frozenset({_S.HELD, _S.COMPENSATING, _S.FAILED, _S.CANCELLED, _S.EXPIRED}),
    # HELD -> HELD: seats added or the hold extended
    _S.HELD: frozenset({_S.HELD, _S.AUTHORIZING, _S.COMPENSATING, _S.CANCELLED, _S.EXPIRED}),
    _S.AUTHORIZING: frozenset({_S.CONFIRMING, _S.COMPENSATING}),
    _S.CONFIRMING: frozenset({_S.CAPTURING, _S.COMPENSATING}),
    # CAPTURING -> CONFIRMED happens after the locks are released (a post-step, never undone)
    _S.CAPTURING: frozenset({_S.CONFIRMED, _S.COMPENSATING}),
    _S.COMPENSATING: frozenset({_S.FAILED, _S.CANCELLED, _S.EXPIRED}),
    _S.CONFIRMED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.EXPIRED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: CheckoutStatus, target: CheckoutStatus) -> None:
        super().__init__(f"checkout cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: CheckoutStatus, target: CheckoutStatus) -> bool:
    return target in TRANSITIONS[current]


def transition(current: CheckoutStatus, target: CheckoutStatus) -> CheckoutStatus:
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


def is_terminal(status: CheckoutStatus) -> bool:
    return status in TERMINAL
