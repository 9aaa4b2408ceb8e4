"""When the next turns come: the room's own admission rule played forward.

The controller admits by two bounds (``domain.waiting_room``): the pace's credit, and the
seats (no more unused turns than the available seats, plus those expected back within a short
lead, can serve at what a turn takes). The forecast every buyer's ETA is read from runs that
same rule forward from the room as the tick sees it, a tick at a time (at the ticks' measured
spacing), with a model of what the admitted buyers then do:

- a buyer holds ``hold_after_ms`` after its turn is given, and later when the saga falls
  behind (its holds slower than the latency target): it then takes ``holds_per_s`` first
  holds a second, in the order the turns were given (the room admits ``headroom`` times what
  the saga completes, so turns are given faster than buyers get to hold, and the wait for a
  hold grows until the seats bound the admissions); a turn the platform does not reach before
  it ends is lost; a buyer finding no seat looks again until its turn ends;
- a share of the turns (``lost_share``) never hold: their buyer left, or saw the turn too late;
  they end unused at their deadline, and their place goes to the turns after them; a turn
  already unused for a while is likelier lost (``lost_if_unused``), as the sale's first holds
  show how many turns are still unused at its age;
- a turn takes ``seats`` while seats are plentiful, and fewer as they run out: the last seats
  are shorter runs, then scattered singles (``SEATS_AS_THEY_RUN_OUT``);
- what a buyer holds comes back as ``Returns`` says (a failed payment's share soon after the
  hold, an abandoned one's at its expiry), and is held again by later turns;
- the room's estimate of a turn's seats (what bounds admissions) follows the turns used, as
  the controller's does (``seats_per_turn``).

Why play the rule forward rather than divide the seats by a turn's seats: the admissions after
the first seats are gone are set by the returns *and* by the room's own estimate, which falls as
the late turns take fewer seats; a single division put those turns 2-3x too early or too late
(docs/measurements.md has the replays against recorded sales).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.waiting_room import (
    Forecast,
    Returns,
    accrue,
    admissions_now,
    held_seats_back,
    lost_if_unused,
    seat_capacity,
    seats_per_turn,
)

# The controller's tick at the soonest (``TICK_SECONDS``). On a busy API process ticks come
# further apart, and a turn due between two comes at the later: the forecast steps at the
# ticks' measured spacing, within these bounds.
STEP_MS = 250
MAX_STEP_MS = 2000
HORIZON_MS = 180_000  # turns further out are told no ETA
MAX_STEPS = 160  # a forecast's steps: every poll reads them all
# Turns this close to the last step (as a share of its wait) are told its time: one ETA for
# turns a few percent apart keeps the field short (most turns come late, far apart).
MERGE_SHARE = 0.05


# What a turn takes as the seats run out, by the share of the event still available (at least
# that share: seats; None: what buyers take while seats are plentiful, ``Turns.seats``). Below a
# fifth, the runs left are shorter; below a tenth, mostly single seats are left between others'
# holds; with next to none left, turns take what comes back, a returned hold's run, split among
# the next buyers. The shape is what the turns took in the bench's recorded sales, bin by bin
# (docs/measurements.md): the same in every run.
SEATS_AS_THEY_RUN_OUT: tuple[tuple[float, float | None], ...] = (
    (0.2, None),
    (0.1, 1.85),
    (0.02, 1.1),
    (0.0, 1.45),
)


@dataclass(frozen=True)
class Turns:
    """What the admitted buyers do, as the forecast models it."""

    seats: float  # seats a turn takes while seats are plentiful
    hold_after_ms: int  # how long after its turn is given a buyer holds
    turn_ms: int  # a buyer who finds no seat looks again until its turn ends
    # first holds the platform takes a second: turns beyond it wait their turn to hold, in
    # the order they were given (the room admits faster than the saga completes, by design);
    # unbounded while the saga keeps up
    holds_per_s: float = math.inf
    # the share of turns whose buyer never comes to hold (left, or saw the turn too late):
    # they end unused at their deadline
    lost_share: float = 0.0

    def seats_at(self, available: float, total: int) -> float:
        """Seats the next turn takes with ``available`` of ``total`` seats left (what is left,
        if less; nothing without a whole seat)."""
        if available < 1:
            return 0.0
        share = available / total
        per = next(per for least, per in SEATS_AS_THEY_RUN_OUT if share >= least)
        return min(max(self.seats if per is None else min(per, self.seats), 1.0), available)


@dataclass
class _Room:
    """The simulated room: seats available, the returns to come, turns given and not used.

    Turns are followed in batches (the turns given in one tick hold together), so a tick of a
    large sale plays forward in a few milliseconds, not one heap entry per buyer."""

    available: float
    total: int
    turns_used: int
    turn_seats: float
    prior: float
    how: Returns
    lead_ms: int
    near: list[tuple[int, float]]  # returns within the lead, soonest first (a heap)
    far: list[tuple[int, float]]  # returns after it (a heap)
    pending: list[tuple[int, int, int]]  # turns looking again: (when, their end, how many)
    # unused turns in the order given: [when they may hold, their end, how many]
    queue: deque[list[int]] = field(default_factory=deque)
    absent: list[tuple[int, int]] = field(default_factory=list)  # (end, how many): never hold
    absent_share: float = 0.0  # what share of the turns given never hold
    absent_carry: float = 0.0  # the fraction of a turn that the last batches left over
    outstanding: int = 0  # unused turns in ``queue``, ``pending`` and ``absent``
    soon: float = 0.0  # seats in ``near``
    step_ms: int = STEP_MS  # the time between two ticks
    budget: float = 0.0  # first holds the platform can still take this step

    def expect(self, at_ms: int, seats: float, now_ms: int) -> None:
        if seats <= 0:
            return
        if at_ms <= now_ms + self.lead_ms:
            heapq.heappush(self.near, (at_ms, seats))
            self.soon += seats
        else:
            heapq.heappush(self.far, (at_ms, seats))

    def give(self, hold_at_ms: int, ends_ms: int, count: int, share: float | None = None) -> None:
        """``count`` turns, of which ``share`` (None: ``absent_share``) never hold."""
        self.outstanding += count
        self.absent_carry += count * (self.absent_share if share is None else share)
        absent = min(count, math.floor(self.absent_carry + 1e-9))
        self.absent_carry -= absent
        if absent:
            heapq.heappush(self.absent, (ends_ms, absent))
        if count > absent:
            self.queue.append([hold_at_ms, ends_ms, count - absent])

    def look_again(self, at_ms: int, ends_ms: int, count: int) -> None:
        heapq.heappush(self.pending, (at_ms, ends_ms, count))
        self.outstanding += count

    def advance(self, now_ms: int, turns: Turns) -> None:
        """Moves the room to ``now_ms``: returns fall due, unused turns hold."""
        while self.far and self.far[0][0] <= now_ms + self.lead_ms:
            at_ms, seats = heapq.heappop(self.far)
            heapq.heappush(self.near, (at_ms, seats))
            self.soon += seats
        while self.near and self.near[0][0] <= now_ms:
            _, seats = heapq.heappop(self.near)
            self.soon -= seats
            self.available += seats
        while self.absent and self.absent[0][0] <= now_ms:
            self.outstanding -= heapq.heappop(self.absent)[1]
        retry: list[tuple[int, int, int]] = []
        step = turns.holds_per_s * self.step_ms / 1000
        self.budget = min(self.budget + step, max(step, turns.holds_per_s, 1.0))
        while self.queue and self.queue[0][0] <= now_ms:
            _, ends_ms, count = lot = self.queue[0]
            if ends_ms <= now_ms:  # never came in their turn
                self.queue.popleft()
                self.outstanding -= count
                continue
            served = count if self.budget >= count else math.floor(self.budget + 1e-9)
            if served <= 0:
                break
            self.budget -= served
            self.outstanding -= served
            lot[2] -= served
            if not lot[2]:
                self.queue.popleft()
            self._held(served, ends_ms, now_ms, turns, retry)
        while self.pending and self.pending[0][0] <= now_ms:
            _, ends_ms, count = heapq.heappop(self.pending)
            self.outstanding -= count
            self._held(count, ends_ms, now_ms, turns, retry)
        for at_ms, ends_ms, count in retry:
            self.look_again(at_ms, ends_ms, count)

    def _held(
        self, count: int, ends_ms: int, now_ms: int, turns: Turns, retry: list[tuple[int, int, int]]
    ) -> None:
        """``count`` turns try to hold now; those finding no seat look again while they last."""
        held, taken = self._hold(count, turns)
        if held < count and now_ms + self.step_ms < ends_ms:
            retry.append((now_ms + self.step_ms, ends_ms, count - held))  # no seat yet: again
        self.expect(now_ms + self.how.pay_ms, taken * self.how.failed_share, now_ms)
        self.expect(now_ms + self.how.hold_ms, taken * self.how.abandoned_share, now_ms)

    def _hold(self, count: int, turns: Turns) -> tuple[int, float]:
        """``count`` turns hold, one after another: (how many found a seat, the seats taken)."""
        held, taken = 0, 0.0
        # While the seats stay plentiful every turn takes the same: those at once.
        plentiful = SEATS_AS_THEY_RUN_OUT[0][0] * self.total
        per = max(turns.seats, 1.0)
        at_once = min(count, max(0, math.floor((self.available - plentiful) / per)))
        if at_once:
            held, taken = at_once, at_once * per
            self.available -= taken
        while held < count:
            seats = turns.seats_at(self.available, self.total)
            if seats <= 0:
                break
            self.available -= seats
            held, taken = held + 1, taken + seats
        self.turns_used += held
        self.turn_seats += taken
        return held, taken

    def capacity(self) -> int:
        """Unused turns the seats can serve, by the room's own estimate of a turn's seats."""
        per_holder = seats_per_turn(self.turn_seats, self.turns_used, self.prior)
        return seat_capacity(math.floor(self.available + self.soon + 1e-9), per_holder)

    def settled(self) -> bool:
        """Nothing more can happen: no seat left, none to come back, no turn to hold."""
        return self.available < 1 and not (
            self.near or self.far or self.pending or self.queue or self.absent
        )


def play_forward(
    now_ms: int,
    rate: float,
    credit: float,
    available: int,
    held_expiries_ms: list[int],
    unused_given_ms: list[int],
    total_seats: int,
    used: tuple[int, int, float],
    how: Returns,
    turns: Turns,
    lead_ms: int,
    waiting: int,
    tick_ms: float | None = None,
    unused_at: Callable[[int], float] | None = None,
) -> Forecast:
    """The turns to come after the ``len(unused_given_ms)`` unused ones, as ``Forecast`` steps.

    ``held_expiries_ms``: one entry per live held seat (its hold's expiry); ``unused_given_ms``:
    when each unused turn was given; ``used``: the turns used so far, the seats they took and
    the first estimate of a turn's seats (what ``seats_per_turn`` counts from); ``credit``: the
    pace's credit left after this tick; ``waiting``: buyers still waiting (no turn beyond them);
    ``tick_ms``: how far apart the room's ticks come (turns are given at ticks only; None: as
    often as they may).
    """
    turns_used, turn_seats, prior = used
    room = _Room(
        available=float(max(available, 0)),
        total=max(total_seats, 1),
        turns_used=turns_used,
        turn_seats=float(turn_seats),
        prior=prior,
        how=how,
        lead_ms=lead_ms,
        near=[],
        far=[],
        pending=[],
        absent_share=turns.lost_share,
        step_ms=STEP_MS if tick_ms is None else round(min(max(tick_ms, STEP_MS), MAX_STEP_MS)),
    )
    # In the order given (the first come first at the platform); a tick's turns share a moment.
    for given_ms, count in sorted(Counter(unused_given_ms).items()):
        share = (
            None
            if unused_at is None
            else lost_if_unused(turns.lost_share, unused_at(max(now_ms - given_ms, 0)))
        )
        room.give(
            max(given_ms + turns.hold_after_ms, now_ms), given_ms + turns.turn_ms, count, share
        )
    for at_ms, seats in held_seats_back(now_ms, held_expiries_ms, how):
        room.expect(at_ms, seats, now_ms)
    steps: list[tuple[int, int]] = []
    given = 0
    t_ms = now_ms
    while given < waiting and t_ms <= now_ms + HORIZON_MS and not room.settled():
        room.advance(t_ms, turns)
        count = admissions_now(credit, room.capacity(), room.outstanding, waiting - given)
        if count:
            given += count
            room.give(t_ms + turns.hold_after_ms, t_ms + turns.turn_ms, count)
            if steps and t_ms - steps[-1][0] <= (steps[-1][0] - now_ms) * MERGE_SHARE:
                steps[-1] = (steps[-1][0], given)
            elif len(steps) < MAX_STEPS:
                steps.append((t_ms, given))
            else:
                break
        credit = accrue(credit - count, rate, room.step_ms / 1000)
        t_ms += room.step_ms
    return Forecast(now_ms, rate, tuple(steps))
