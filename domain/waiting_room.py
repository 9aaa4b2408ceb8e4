"""A waiting room's pure rules: queue order, what a buyer is told, the admission pace.

Order. Buyers who join before the sale opens get a random key in [0, 1) drawn from a CSPRNG
at join and kept hidden until the opening: at the opening they are in the order of their keys,
so arriving early or with a faster script gains nothing. Buyers who join after the opening get
the key ``1 + n`` (n counts arrivals), so they queue in arrival order behind the pre-queue.
A position never moves once the sale is open: nobody is ever inserted ahead of anyone.

Admission. The first ``admitted`` positions have their turn. How many more are admitted comes
from two bounds, whichever is smaller: the pace (``next_rate``: what the saga completes per
second, with feedback from hold latency, within the operator's floor and ceiling) and the seats
(no more buyers with an unused turn than the seats can serve: the seats available now, plus the
seats expected back within a short lead, ``expected_returns``, so the room does not idle while
an abandoned hold runs out; a buyer admitted to an empty seat map would only wait out its turn).

The ETA (``Forecast``) is when the buyer's turn comes by that rule, played forward with a model
of what admitted buyers do (``domain/waiting_room_forecast.py``). A buyer whose turn no seat in
sight can serve is told no ETA (seats may still come back).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    eta_seconds: int | None  # None: no turn in sight (nothing measured, or no seat to serve it)
    turn_at_ms: int | None = None  # when the turn is expected (epoch ms), while waiting


@dataclass(frozen=True)
class Forecast:
    """When the next turns come, as the controller saw the room at ``at_ms`` (epoch ms).

    Turn ``j`` (1-based, counted from the cursor) comes at the first ``steps`` entry whose turn
    count reaches ``j`` (epoch ms, turns given by then: the pace and the seats both played
    forward, ``domain/waiting_room_forecast.py``). ``rate`` 0: the room admits nobody now.
    """

    at_ms: int
    rate: float
    steps: tuple[tuple[int, int], ...]  # ascending in both; turns beyond the last: no ETA

    def turn_ms(self, turn: int) -> int | None:
        """When the ``turn``-th next turn comes (epoch ms), None when no seat in sight serves it."""
        if self.rate <= 0:
            return None
        return next((at for at, turns in self.steps if turns >= turn), None)

    def encode(self) -> str:
        """A compact text for one Redis field: ``at_ms rate ms:turns,ms:turns...``."""
        steps = ",".join(f"{at}:{turns}" for at, turns in self.steps)
        return f"{self.at_ms} {self.rate!r} {steps}"

    @staticmethod
    def decode(text: str | None) -> Forecast | None:
        if not text:
            return None
        try:
            at_ms, rate, steps = (text.split(" ") + [""])[:3]
            pairs = [step.split(":") for step in steps.split(",") if step]
            return Forecast(
                int(at_ms), float(rate), tuple((int(at), int(turns)) for at, turns in pairs)
            )
        except ValueError:
            return None  # written by another version: the next tick writes a new one


def place(rank: int, admitted: int, plan: Forecast | None, now_ms: int) -> Place:
    """The place of the buyer at 0-based ``rank`` when the first ``admitted`` have their turn.

    The ETA is when the buyer's own turn, the ``rank - admitted + 1``-th next one, comes in the
    controller's latest forecast, from now, to the nearest second (at least one while waiting).
    """
    ahead = max(0, rank - admitted)
    if rank < admitted:
        return Place(rank + 1, 0, 0)
    at = None if plan is None else plan.turn_ms(ahead + 1)
    if at is None:
        return Place(rank + 1, ahead, None)
    return Place(rank + 1, ahead, max(1, round((at - now_ms) / 1000)), at)


@dataclass(frozen=True)
class Returns:
    """How held seats come back (config/settings.py's waiting-room block).

    A buyer who pays does so within ``pay_seconds`` of holding; ``failed_share`` of the seats
    held come back then (the payment failed: the saga releases them at once), and
    ``abandoned_share`` come back at the hold's expiry (the buyer walked away)."""

    hold_seconds: float
    pay_seconds: float
    failed_share: float
    abandoned_share: float

    @property
    def hold_ms(self) -> int:
        return int(self.hold_seconds * 1000)

    @property
    def pay_ms(self) -> int:
        """A hold ends at its expiry at the latest, paid for or not."""
        return min(int(self.pay_seconds * 1000), self.hold_ms)


def held_seats_back(now_ms: int, expiries_ms: list[int], how: Returns) -> list[tuple[int, float]]:
    """When the seats held now come back, as (epoch ms, expected seats) lots.

    ``expiries_ms`` has one entry per live held seat: its hold's expiry. A seat still held
    ``pay_seconds`` after its hold began was not paid for: it comes back at its expiry. A
    younger one may still be paid: the failed share comes back when its buyer has paid, the
    abandoned share at its expiry."""
    lots: list[tuple[int, float]] = []
    for expires_ms, seats in Counter(expiries_ms).items():
        began_ms = expires_ms - how.hold_ms
        if now_ms - began_ms >= how.pay_ms:
            lots.append((expires_ms, float(seats)))
        else:
            lots.append((began_ms + how.pay_ms, seats * how.failed_share))
            lots.append((expires_ms, seats * how.abandoned_share))
    return lots


def settled_payments(
    answered: Sequence[tuple[int, int, int]], now_ms: int, settle_ms: int
) -> tuple[int, int]:
    """(declined, paid) seats of the payments answered, counted over the seconds in which
    they were *submitted* and only the seconds at least ``settle_ms`` past: a decline is
    answered at once and an approval only once captured and booked, so the payments answered
    so far over-count the declines; those submitted long enough ago have all been answered.
    ``answered``: (the second submitted, seats paid, seats declined)."""
    declined = paid = 0
    for second, paid_seats, failed_seats in answered:
        if (second + 1) * 1000 + settle_ms <= now_ms:
            declined, paid = declined + failed_seats, paid + paid_seats
    return declined, paid


def measured_returns(how: Returns, failed_seats: int, paid_seats: int) -> Returns:
    """``how``, its failed share measured on the sale itself: of the seats whose payment was
    answered, ``failed_seats`` were declined (from the configured share, counted as
    ``PRIOR_TURNS`` seats). It swings from sale to sale (one run of the bench's sale had half
    again as many declines as another), and it sets how fast turns come once every seat is
    taken. The configured shares are of the seats held; the abandoned never pay, so the
    declined are a share of the rest."""
    paying = 1.0 - how.abandoned_share
    if paying <= 0:
        return how
    declined = per_turn(failed_seats, failed_seats + paid_seats, how.failed_share / paying)
    return replace(how, failed_share=min(max(declined, 0.0), 1.0) * paying)


# Returned seats are held again and may come back again: the forecast follows them this many
# holds ahead, and drops amounts too small to serve anyone.
RETURN_GENERATIONS = 3
MIN_RETURN_SEATS = 0.05


def expected_returns(
    now_ms: int,
    available_seats: int,
    expiries_ms: list[int],
    how: Returns,
    seats_per_second: float = 0.0,
) -> list[tuple[int, float]]:
    """Seats expected back, as (epoch ms, expected seats), soonest first.

    ``expiries_ms`` has one entry per live held seat: its hold's expiry; they come back as
    ``held_seats_back`` says. The seats available now are held by the next turns as the pace
    admits them (``seats_per_second``: the admission rate times a turn's seats; 0: all now),
    and come back in the same shares, as long after; so do the seats that come back, once
    held again.
    """
    lots: list[tuple[int, float, int]] = []  # a heap of (when, seats, generation)

    def held_at(start_ms: int, seats: float, generation: int) -> None:
        if generation > RETURN_GENERATIONS:
            return
        for at_ms, share in (
            (start_ms + how.pay_ms, how.failed_share),
            (start_ms + how.hold_ms, how.abandoned_share),
        ):
            push(at_ms, seats * share, generation)

    def push(at_ms: int, seats: float, generation: int) -> None:
        if seats >= MIN_RETURN_SEATS:
            heapq.heappush(lots, (at_ms, seats, generation))

    for at_ms, seats in held_seats_back(now_ms, expiries_ms, how):
        push(at_ms, seats, 1)
    for at_ms, seats in _held_at_the_pace(now_ms, float(max(available_seats, 0)), seats_per_second):
        held_at(at_ms, seats, 1)
    returns: list[tuple[int, float]] = []
    while lots:
        at_ms, seats, generation = heapq.heappop(lots)
        returns.append((max(at_ms, now_ms), seats))
        held_at(max(at_ms, now_ms), seats, generation + 1)  # held again as soon as back
    return returns


MAX_PACE_LOTS = 64  # the seats available now are followed in at most this many lots


def _held_at_the_pace(
    now_ms: int, seats: float, seats_per_second: float
) -> list[tuple[int, float]]:
    """When the seats available now get held, as (epoch ms, seats): a second's worth at a
    time from now, in at most ``MAX_PACE_LOTS`` lots."""
    if seats <= 0:
        return []
    if seats_per_second <= 0:
        return [(now_ms, seats)]
    lot = max(seats_per_second, seats / MAX_PACE_LOTS)
    lots = math.ceil(seats / lot - 1e-9)
    spacing_ms = lot / seats_per_second * 1000
    return [(now_ms + round(k * spacing_ms), min(lot, seats - k * lot)) for k in range(lots)]


def returning_within(returns: list[tuple[int, float]], now_ms: int, lead_ms: int) -> int:
    """Whole seats expected back within ``lead_ms``: the controller admits buyers for them
    ahead of time, so that they are there, seat map read, when the seats come back."""
    return math.floor(sum(seats for at, seats in returns if at <= now_ms + lead_ms) + 1e-9)


@dataclass(frozen=True)
class Pace:
    """The bounds of the admission rate (config/settings.py's waiting-room block)."""

    floor: float  # admissions/s before anything is measured, and never less
    ceiling: float  # the operator's override: never more
    headroom: float  # admit this much faster than the saga completes, so it never starves
    latency_target_ms: float  # holds slower than this slow admission down


def falling_behind(hold_latency_ms: float | None, latency_target_ms: float) -> bool:
    """Whether the saga is falling behind: its holds take longer than the target. Until then
    it takes holds as they come; after, at what it completes."""
    return hold_latency_ms is not None and hold_latency_ms > latency_target_ms


def next_rate(completions_per_s: float, hold_latency_ms: float | None, pace: Pace) -> float:
    """Admissions per second from what the saga completes and how long holds take.

    Completions (checkouts reaching a terminal state) are what the pipeline sustains; admitting
    ``headroom`` times that lets the pace grow while the saga keeps up. Holds slower than the
    target mean the saga is falling behind: the rate is scaled down in proportion.
    """
    rate = max(pace.floor, completions_per_s * pace.headroom)
    if hold_latency_ms is not None and falling_behind(hold_latency_ms, pace.latency_target_ms):
        rate *= pace.latency_target_ms / hold_latency_ms
    return round(min(max(rate, min(pace.floor, pace.ceiling) / 4), pace.ceiling), 3)


# What a first estimate from outside the sale weighs, in turns: the sale's own turns replace it
# as they come, without the first few dozen swinging it (a turn's seats vary from one to the
# limit, and the first turns are few when most of the queue is told its ETA).
PRIOR_TURNS = 50


def per_turn(total: float, turns: int, prior: float) -> float:
    """``total`` over ``turns``, starting from ``prior`` counted as ``PRIOR_TURNS`` turns."""
    return (total + prior * PRIOR_TURNS) / (max(turns, 0) + PRIOR_TURNS)


def seats_per_turn(turn_seats: float, turns: int, prior: float) -> float:
    """Seats a turn takes: ``turn_seats`` over ``turns``, starting from ``prior`` (the
    platform's recent orders, or the configured guess).

    Over the turns that held, it is what a buyer who holds takes: what the admissions are
    bounded by (counting turns that end unused there would admit more buyers the fewer seats
    they find). Over every turn that ended, used or lost, it is what a turn given takes on
    average: what the forecast spends seats by."""
    return per_turn(turn_seats, turns, prior)


def lost_share(lost: int, ended: int, prior: float) -> float:
    """The share of turns that end unused: the ``lost`` among the ``ended`` turns (those whose
    deadline has passed: only they are decided, so turns used early do not hide the losses
    still to come), starting from ``prior``."""
    return min(max(per_turn(lost, ended, prior), 0.0), 1.0)


def lost_if_unused(lost: float, unused: float) -> float:
    """The chance that a turn still unused at some age ends unused, when ``lost`` of all turns
    do and ``unused`` of them are still unused at that age: a turn is lost only if it is still
    unused, so the older an unused turn, the likelier it is lost (at the opening's crush, most
    turns unused at twenty seconds were the buyers who had not yet got through the queue, and
    most of them were lost; counted at the share of all turns, they freed their places later
    than they did)."""
    return 1.0 if unused <= lost else lost / unused


# What the turns' wait for their first hold is read from: no fewer first holds than this, and
# each age with at least this many turns still at risk (unused, or never used, as old or older).
MIN_FIRST_HOLDS = 5
MIN_TURNS_AT_RISK = 10
# The share of turns that end unused is carried to the turn's end from the ages at which at
# least this share of the turns read is still at risk. The older ages rest on the few turns given
# first, each of them a large step of the curve: carried to the turn's end, they swung the lost
# share from tick to tick (docs/measurements.md). The wait for a first hold is read from every
# age: its median lies where the curve is dense, and a quick platform's holds are seen whole.
LOST_SHARE_AT_RISK = 0.25


@dataclass(frozen=True)
class FirstHolds:
    """How long turns wait for their first hold, read from the sale's first seconds.

    A turn's wait is a survival time: the turns used held at their delay; the unused ones are
    censored at their age (they may hold yet), the lost at the turn's end. ``points`` is the
    product-limit estimate of the share still unused at each delay, read as far as enough
    turns are at risk; past the last it falls on at the rate it fell over its later half
    (``per_ms``): buyers on a quick platform hold within seconds, nearly none is left by the
    turn's end; on a slow one they trickle in, and more are left. Read this way, not from the
    delays alone: early in a sale only the quickest have held yet.
    """

    points: tuple[tuple[int, float], ...]  # (delay ms, share still unused), from (0, 1.0)
    per_ms: float  # how fast the share falls past the last point (per ms, exponential)

    @classmethod
    def read(
        cls,
        delays_ms: Sequence[tuple[int, int]],
        unused_ages_ms: Sequence[int],
        lost: int,
        turn_ms: int,
        least_at_risk: float = 0.0,
    ) -> FirstHolds | None:
        """From ``delays_ms`` ((ms, turns) of the first holds), the unused turns' ages and the
        turns ``lost``; None until ``MIN_FIRST_HOLDS`` held, with ``MIN_TURNS_AT_RISK`` turns
        at risk at the first of them. Ages are read while ``MIN_TURNS_AT_RISK`` turns, and
        ``least_at_risk`` of all those read, are still at risk (``LOST_SHARE_AT_RISK``)."""
        if sum(count for _, count in delays_ms) < MIN_FIRST_HOLDS:
            return None
        # At one age the holds come before the censored: a turn aged exactly so may not hold later.
        events = sorted(
            [(ms, count, False) for ms, count in delays_ms]
            + [(age, 1, True) for age in unused_ages_ms]
            + ([(turn_ms, lost, True)] if lost else [])
        )
        at_risk = sum(count for _, count, _ in events)
        fewest = max(MIN_TURNS_AT_RISK, least_at_risk * at_risk)
        points = [(0, 1.0)]
        for age, count, censored in events:
            if at_risk < fewest or age >= turn_ms:
                break
            if not censored:
                points.append((age, points[-1][1] * (1 - count / at_risk)))
            at_risk -= count
        if len(points) == 1:
            return None  # too few turns at risk at the first hold to read anything
        last_ms, last = points[-1]
        per_ms = 0.0
        if last > 0.0 and last_ms > 0:
            half = next(share for ms, share in reversed(points) if ms <= last_ms / 2)
            per_ms = math.log(half / last) / (last_ms / 2)
        return cls(tuple(points), per_ms)

    def unused_at(self, ms: int) -> float:
        """The share of turns not used ``ms`` after they were given."""
        last_ms, last = self.points[-1]
        if ms >= last_ms:
            return last * math.exp(-self.per_ms * (ms - last_ms))
        return next(share for at, share in reversed(self.points) if at <= ms)

    def delay_until(self, unused: float) -> int | None:
        """The delay after which only ``unused`` of the turns are left unused (None: never)."""
        read = self._read_until(unused)
        if read is not None:
            return read
        last_ms, last = self.points[-1]
        if unused <= 0.0 or self.per_ms <= 0.0:
            return None
        return last_ms + math.ceil(math.log(last / unused) / self.per_ms)

    def median_ms(self, turn_ms: int) -> int:
        """The delay by which half the turns that hold within ``turn_ms`` have held."""
        delay = self.delay_until(self._unused_when_held(0.5, turn_ms))
        return turn_ms if delay is None else min(delay, turn_ms)

    def seen_held_ms(self, share: float, turn_ms: int) -> int | None:
        """The delay by which ``share`` of the turns that hold within ``turn_ms`` have held, if
        the delays read (``points``) reach it; None where only the fall extrapolated past them
        would."""
        return self._read_until(self._unused_when_held(share, turn_ms))

    def _read_until(self, unused: float) -> int | None:
        """The first delay read at which only ``unused`` of the turns were left (None: past
        the points)."""
        return next((ms for ms, left in self.points if left <= unused), None)

    def _unused_when_held(self, share: float, turn_ms: int) -> float:
        """The share still unused when ``share`` of the turns that hold within ``turn_ms`` have."""
        return 1.0 - share * (1.0 - self.unused_at(turn_ms))


# The configured guess of a turn's wait for its hold stays the least the forecast counts until
# the sale's own holds show this share of the turns that hold doing so within it.
MOST_HOLD = 0.75


def hold_after_ms(first_holds: FirstHolds | None, turn_ms: int, prior_ms: int) -> int:
    """How long after its turn a buyer holds, as the forecast counts it: the median wait of
    the turns that hold (``FirstHolds.median_ms``), ``prior_ms`` (the configured guess) until
    it can be read. Measured, because it is mostly the platform's speed and the buyers' polls:
    a second or two on a quick one, several on a loaded one.

    The guess is also the least it counts until most turns are seen to hold within it
    (``MOST_HOLD``). At an opening the first to hold are the buyers who happened to ask just
    after their turn, while the rest ask behind the crowd's joins, and the turns given as that
    queue grows wait longer than the ones before: a median read from the first seconds is low
    just when most buyers are told their ETA, and it put the turns after the first seats early
    (docs/measurements.md). A platform that keeps up shows most holds within the guess in
    seconds, and its own median takes over."""
    if first_holds is None:
        return prior_ms
    median = first_holds.median_ms(turn_ms)
    most = first_holds.seen_held_ms(MOST_HOLD, turn_ms)
    return median if most is not None and most <= prior_ms else max(median, prior_ms)


def turn_deadline_ms(given_ms: int, turn_seconds: int) -> int:
    """When a turn given at ``given_ms`` ends: on a whole second, since the admission's ``exp``
    counts seconds, and rounded up, so the turn lasts at least the ``turn_seconds`` its buyer
    is told (rounded down, a turn given late in its second lasted nearly a second less)."""
    return -(-(given_ms + turn_seconds * 1000) // 1000) * 1000


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


# The pace's credit is capped at this many seconds' worth. A busy API process runs its ticks
# late now and then (they wait their turn on the event loop); under a second's cap every late
# tick lost turns and the room ran behind the pace its forecast promised. Two seconds' worth is
# still no burst.
CREDIT_SECONDS = 2.0


def accrue(credit: float, rate: float, elapsed_s: float) -> float:
    """The pace's credit after ``elapsed_s`` at ``rate``: capped at ``CREDIT_SECONDS``' worth,
    so a pause (no seats, no ticks while every API process restarted) never turns into a
    burst."""
    return min(credit + rate * max(elapsed_s, 0.0), max(rate, 1.0) * CREDIT_SECONDS)


def opening_elapsed_s(now_ms: int, opens_ms: int | None) -> float:
    """The first tick's elapsed time: one second's worth of credit at the opening (the first
    buyers need not wait a tick), plus the time since it, as the process may see it late."""
    return 1.0 + (0.0 if opens_ms is None else max(0, now_ms - opens_ms) / 1000)


def smoothed(previous: float | None, sample: float, weight: float = 0.5) -> float:
    """An exponentially weighted mean: ``weight`` for the new sample."""
    return sample if previous is None else previous + weight * (sample - previous)


# How soon and how late a waiting client is told to ask again (``pollAfterMs``); the pre-queue's
# spread at the opening comes on top of the ceiling, so no hint is longer than LONGEST_POLL_MS.
POLL_FLOOR_MS = 1000
POLL_CEILING_MS = 15_000
LONGEST_POLL_MS = 2 * POLL_CEILING_MS


def poll_after_ms(
    eta_seconds: int | None,
    ahead: int = 0,
    floor_ms: int = POLL_FLOOR_MS,
    ceiling_ms: int = POLL_CEILING_MS,
) -> int:
    """When a waiting client should ask again: often near its turn, rarely far back, so a
    crowd of ten thousand costs the API a few hundred reads a second, not thousands. With no
    turn in sight (seats must come back first) by how many are ahead: 50 ms each, so the
    buyers next in line notice returned seats within seconds and the crowd behind them asks
    rarely."""
    if eta_seconds is None:
        return int(min(max(ahead * 50, floor_ms * 2), ceiling_ms))
    return int(min(max(eta_seconds * 1000 / 4, floor_ms), ceiling_ms))


# At the opening the pre-queue asks for its places front first, this many ms apart per place:
# a thousand a second, about what one API process answers beside the saga's first holds.
OPENING_MS_PER_PLACE = 1.0


def pre_queue_poll_after_ms(
    now_ms: int,
    opens_ms: int | None,
    rank: int,
    floor_ms: int = POLL_FLOOR_MS,
    ceiling_ms: int = POLL_CEILING_MS,
) -> int:
    """When a buyer in the pre-queue should ask again: nothing changes for it before the
    opening, so at the opening (at most ``ceiling_ms`` ahead: the opening may be moved), and
    then in the order of the places being drawn, ``OPENING_MS_PER_PLACE`` apart, so the buyers
    whose turn comes first hear of it first and the crowd does not ask all in one moment. The
    spread is at most ``ceiling_ms``: a crowd larger than it fills asks at its usual pace.

    The hint says roughly where the buyer will stand a few seconds before the places are shown;
    nothing can be done with that: its key was drawn at its join and one account has one."""
    if opens_ms is not None and opens_ms - now_ms > ceiling_ms:
        return ceiling_ms
    until_ms = floor_ms if opens_ms is None else max(opens_ms - now_ms, floor_ms)
    return int(until_ms + min(max(rank, 0) * OPENING_MS_PER_PLACE, ceiling_ms))


# Statuses whose sale has opened (the pre-queue is shuffled, arrivals queue in order), and the
# one in which buyers are admitted.
OPENED_STATUSES = frozenset({"ON_SALE", "PAUSED", "SOLD_OUT"})
ADMITTING_STATUS = "ON_SALE"
PRE_OPENING_STATUS = "SCHEDULED"  # the pre-queue's: the sale has not opened yet
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
