"""A waiting room's pure rules: queue order, what a buyer is told, the admission pace.

Order. Buyers who join before the sale opens get a random key in [0, 1) drawn from a CSPRNG
at join and kept hidden until the opening: at the opening they are in the order of their keys,
so arriving early or with a faster script gains nothing. Buyers who join after the opening get
the key ``1 + n`` (n counts arrivals), so they queue in arrival order behind the pre-queue.
A position never moves once the sale is open: nobody is ever inserted ahead of anyone.

Admission. The first ``admitted`` positions have their turn. How many more are admitted comes
from two bounds, whichever is smaller: the pace (``next_rate``: what the saga completes per
second, with feedback from hold latency, within the operator's floor and ceiling) and the seats
(no more buyers with an unused turn than the seats still available can serve: a buyer admitted
to an empty seat map would only be told to leave, while the seats held by others may come back).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class QueueState(StrEnum):
    NOT_QUEUED = "NOT_QUEUED"  # has not joined (or the room is off)
    PRE_QUEUE = "PRE_QUEUE"  # joined before the opening: a random position at the opening
    WAITING = "WAITING"
    ADMITTED = "ADMITTED"  # holds an admission: may hold seats until it expires
    TURN_EXPIRED = "TURN_EXPIRED"  # was admitted and did not hold in time: the turn is gone
    SOLD_OUT = "SOLD_OUT"  # every sellable seat is booked
    CLOSED = "CLOSED"  # the event is not selling (cancelled, completed)


# Keys below this are the pre-queue's random keys; arrivals after the opening count up from it.
ARRIVALS_START = 1.0


def pre_queue_key(random_fraction: float) -> float:
    """A pre-queue buyer's key: a uniform random fraction, revealed (as an order) at opening."""
    if not 0.0 <= random_fraction < 1.0:
        raise ValueError("a pre-queue key is a fraction in [0, 1)")
    return random_fraction


def arrival_key(arrival: int) -> float:
    """The key of the ``arrival``-th (from 1) buyer to join after the opening. Exact as a float
    (and as a Redis sorted-set score) up to 2**53 arrivals."""
    if arrival < 1:
        raise ValueError("arrivals count from 1")
    return ARRIVALS_START + arrival


def queue_order(keys: dict[str, float]) -> list[str]:
    """Buyers in queue order: by key (ties, impossible in practice, by id, like Redis)."""
    return sorted(keys, key=lambda buyer: (keys[buyer], buyer))


@dataclass(frozen=True)
class Place:
    """A buyer's place: 1-based position, people ahead still waiting, the ETA in seconds."""

    position: int
    ahead: int
    eta_seconds: int | None  # None: no pace measured yet (nothing to predict from)


def place(rank: int, admitted: int, admissions_per_s: float) -> Place:
    """The place of the buyer at 0-based ``rank`` when the first ``admitted`` have their turn.

    The ETA is the people ahead of the buyer, plus the buyer, over the admission pace: when the
    ``rank - admitted + 1``-th next admission happens at the current pace.
    """
    ahead = max(0, rank - admitted)
    if rank < admitted:
        return Place(rank + 1, 0, 0)
    if admissions_per_s <= 0:
        return Place(rank + 1, ahead, None)
    return Place(rank + 1, ahead, math.ceil((ahead + 1) / admissions_per_s))


@dataclass(frozen=True)
class Pace:
    """The bounds of the admission rate (config/settings.py's waiting-room block)."""

    floor: float  # admissions/s before anything is measured, and never less
    ceiling: float  # the operator's override: never more
    headroom: float  # admit this much faster than the saga completes, so it never starves
    latency_target_ms: float  # holds slower than this slow admission down


def next_rate(completions_per_s: float, hold_latency_ms: float | None, pace: Pace) -> float:
    """Admissions per second from what the saga completes and how long holds take.

    Completions (checkouts reaching a terminal state) are what the pipeline sustains; admitting
    ``headroom`` times that lets the pace grow while the saga keeps up. Holds slower than the
    target mean the saga is falling behind: the rate is scaled down in proportion.
    """
    rate = max(pace.floor, completions_per_s * pace.headroom)
    if hold_latency_ms is not None and hold_latency_ms > pace.latency_target_ms:
        rate *= pace.latency_target_ms / hold_latency_ms
    return round(min(max(rate, min(pace.floor, pace.ceiling) / 4), pace.ceiling), 3)


def seat_capacity(available_seats: int, seats_per_buyer: float) -> int:
    """How many buyers with an unused turn the available seats can serve (at least one while
    any seat is available: a lone seat still sells)."""
    if available_seats <= 0:
        return 0
    return max(1, math.floor(available_seats / max(seats_per_buyer, 1.0)))


def admissions_now(credit: float, capacity: int, outstanding: int, waiting: int) -> int:
    """Admissions to make now: the whole part of the pace's credit, within what the seats can
    serve beyond the turns still unused, and the buyers still waiting."""
    return max(0, min(math.floor(credit), capacity - outstanding, waiting))


def accrue(credit: float, rate: float, elapsed_s: float) -> float:
    """The pace's credit after ``elapsed_s`` at ``rate``: capped at one second's worth, so a
    pause (no seats, no ticks while every API process restarted) never turns into a burst."""
    return min(credit + rate * max(elapsed_s, 0.0), max(rate, 1.0))


def smoothed(previous: float | None, sample: float, weight: float = 0.5) -> float:
    """An exponentially weighted mean: ``weight`` for the new sample."""
    return sample if previous is None else previous + weight * (sample - previous)


def poll_after_ms(eta_seconds: int | None, floor_ms: int = 1000, ceiling_ms: int = 15_000) -> int:
    """When a waiting client should ask again: often near its turn, rarely far back, so a
    crowd of ten thousand costs the API a few hundred reads a second, not thousands."""
    if eta_seconds is None:
        return floor_ms * 2
    return int(min(max(eta_seconds * 1000 / 4, floor_ms), ceiling_ms))


# Statuses whose sale has opened (the pre-queue is shuffled, arrivals queue in order), and the
# one in which buyers are admitted.
OPENED_STATUSES = frozenset({"ON_SALE", "PAUSED", "SOLD_OUT"})
ADMITTING_STATUS = "ON_SALE"
CLOSED_STATUSES = frozenset({"CANCELLED", "COMPLETED", "DRAFT"})


def buyer_state(
    event_status: str,
    rank: int | None,
    admitted: int,
    deadline_ms: int | None,
    lost: bool,
    opened: bool,
    now_ms: int,
) -> QueueState:
    """What the buyer is told. Sold out only when every sellable seat is booked (the event's
    SOLD_OUT); while seats are only held, waiting buyers stay, since held seats may come back."""
    if event_status == "SOLD_OUT":
        return QueueState.SOLD_OUT
    if event_status in CLOSED_STATUSES:
        return QueueState.CLOSED
    if rank is None:
        return QueueState.NOT_QUEUED
    if lost:
        return QueueState.TURN_EXPIRED
    if rank < admitted and deadline_ms is not None:
        return QueueState.ADMITTED if now_ms < deadline_ms else QueueState.TURN_EXPIRED
    return QueueState.WAITING if opened else QueueState.PRE_QUEUE
