"""The waiting room: joining, what a buyer is told, admissions, and the controller's pace.

**Why Redis, not a Temporal workflow per on-sale.** The room's decisions are arithmetic on a
cursor (admit the next k positions), and every buyer's poll must read that cursor anyway, so it
lives in Redis beside the queue, where one Lua script moves it atomically. A workflow would
add a timer, an activity and a dozen history events per tick to the very Temporal server the
flash sale saturates, and its decisions would still have to be copied to Redis for the API.

**How it advances.** Each API process keeps a clock for every room its buyers ask about
(``joinQueue``, ``queueStatus``, ``queueUpdates``): a task that ticks the room every
``TICK_SECONDS`` while its wait lasts (not sold out, closed, nor switched off), however long its
buyers were told to wait before asking again, and ends ``CLOCK_IDLE_SECONDS`` after this
process's last ask (a room nobody here watches is ticked by the clocks of the processes whose
buyers do). The clocks run once ``start_clock`` is called (the API's lifespan, which ends them
with ``aclose``). The asks tick too, at most every ``TICK_SECONDS`` per process counted together
with the clock, so a buyer's answer is as fresh as the room allows and a room built without a
clock (tests, tools) still advances. Only the process that takes the room's lease
(``SET NX PX``) ticks; the lease lasts until the tick's admission script ends it, so one tick
runs at a time. A tick ends unused turns past their deadline (reading the room, the seats and
the holds at once), then admits ``domain.waiting_room.admissions_now``: the pace's credit,
within what the seats can serve (the available ones, and the held ones likely to come back
within a short lead, read from the saga's grants). The admission script applies it only if the
cursor did not move meanwhile, together with the tick's forecast of the turns to come
(``domain.waiting_room_forecast``: the same rule played forward), from which every buyer's poll
reads its ETA. Before the opening a tick only writes the opening's forecast (it takes no
lease, so the first process to see the opening ticks at once).
Every ``waiting_room_measure_seconds`` one process measures the saga's pace: the event's
checkouts that reached a terminal state (one count at Temporal's visibility) and its own hold
latency (the saga step's histogram), giving the rate (``domain.waiting_room.next_rate``),
within the operator's floor and ceiling; and, once per room, from before the opening, the seats
per order of the platform's latest bookings, where the estimate of a turn's seats starts
(``domain.waiting_room.seats_per_turn``; each hold in a turn then reports its seats, and a
turn's first hold how long after the turn it came: the forecast's soonest hold). Each answered
payment reports its seats, paid for or declined, by the second it was submitted: the forecast's
failed share, read from the seconds whose payments have all been answered.

**Recovery.** Everything is in Redis (AOF on the dev stack, a replicated ElastiCache in
production) except the organizer's switch (PostgreSQL). An API process that dies loses
nothing: any other one ticks on (a tick's lease outlives a process that died mid-tick by two
seconds at most). After a pause in ticking the credit is capped at two seconds' worth, so a
restart never floods the saga. If Redis itself loses the room, admissions already
issued stay valid (they are verified by signature alone) and buyers join again; before the
opening that costs nobody anything, since pre-queue positions are random anyway.

**Operators** read the room's state with the ``waitingRoom(eventId)`` query (queued,
admitted, unused turns, lost turns, the rate and what it was derived from).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.waiting_room import RedisWaitingRooms, RoomSnapshot
from adapters.waiting_room_events import (
    RoomEvent,
    recent_order_size,
    room_event,
    switch_waiting_room,
)
from config.settings import Settings
from domain import waiting_room as rules
from domain.errors import DomainError, ErrorCode
from domain.waiting_room import QueueState
from domain.waiting_room_admission import Admission, AdmissionSigner
from domain.waiting_room_forecast import Turns, play_forward

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
# Polls come at most as many at once as the clients' HTTP connections; a crowd's subscriptions
# wake on their own schedule, and ten thousand reading the room at once opened a Redis
# connection each and timed out connecting. Their statuses are read this many at a time.
PUSHES_AT_ONCE = 32
# A room's clock outlives this process's last ask about it by this much: twice the longest wait
# the room suggests between a buyer's asks (pollAfterMs), so it never stops under a buyer still
# watching here, and short enough that a process does not tick for long a room whose buyers
# have all gone to other processes (theirs run their own clocks).
CLOCK_IDLE_SECONDS = 2 * rules.LONGEST_POLL_MS / 1000
# Long enough for a tick on a busy process; the admission script ends it with the tick.
LEASE_MS = 2000
EVENT_TTL_SECONDS = 1.0  # how stale this process's copy of an event's switch and status may be
# A copy that says the sale has not opened while the room says it has is read again, at most
# this often (an event put back to SCHEDULED after opening must not cost a read per poll).
REREAD_AFTER_OPENING_SECONDS = 0.1
PACE_WINDOW_MS = 2000  # the ETAs' pace is measured over windows this long
TICK_GAP_WEIGHT = 0.3  # a tick's spacing in the smoothed one: one late tick does not swing it

Run = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class QueueStatus:
    event_id: str
    room_on: bool
    state: QueueState
    position: int | None = None
    ahead: int | None = None
    eta_seconds: int | None = None
    turn_at_ms: int | None = None  # when the turn is expected (epoch ms)
    queued: int = 0
    admission: str | None = None
    admission_expires_at: int | None = None  # epoch seconds
    admitted_at_ms: int | None = None
    seats_may_come_back: bool = False
    poll_after_ms: int = 2000
    message: str = ""


def _messages(status: QueueStatus) -> str:
    state = status.state
    if state == QueueState.PRE_QUEUE:
        return "you are in the pre-queue: everyone in it gets a random place when the sale opens"
    if state == QueueState.WAITING:
        more = " Every seat is held right now; held seats may come back." * bool(
            status.seats_may_come_back
        )
        return f"{status.ahead} ahead of you.{more}"
    if state == QueueState.ADMITTED:
        return "it is your turn: hold seats before your admission expires"
    if state == QueueState.TURN_EXPIRED:
        return "your turn ended"
    if state == QueueState.SOLD_OUT:
        return "sold out: every seat is booked"
    if state == QueueState.CLOSED:
        return "this event is not selling tickets"
    return "not in the queue" if status.room_on else "this event has no waiting room"


class HoldLatency:
    """The mean time of this process's holds at the saga since the last sample (ms), from the
    histogram the hold already records: no extra work on the hold path."""

    def __init__(self, read: Callable[[], tuple[float, float]]) -> None:
        self._read = read  # (sum of seconds, count)
        self._last = read()

    def sample(self) -> float | None:
        total, count = self._read()
        (last_total, last_count), self._last = self._last, (total, count)
        if count <= last_count:
            return None
        return (total - last_total) / (count - last_count) * 1000


class WaitingRoom:
    def __init__(
        self,
        settings: Settings,
        store: RedisWaitingRooms,
        engine: Engine,
        run_sync: Run,
        available_seats: Callable[[str], Awaitable[int]],
        finished_checkouts: Callable[[str], Awaitable[int]],
        hold_latency: HoldLatency,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._engine = engine
        self._run_sync = run_sync
        self._available = available_seats
        self._finished = finished_checkouts
        self._latency = hold_latency
        self._clock = clock
        self._signer = AdmissionSigner(settings.jwt_secret)
        self._events: dict[str, tuple[float, RoomEvent | None]] = {}
        self._changed: dict[str, asyncio.Event] = {}  # set when an event's wait ends (_keep)
        self._ticked: dict[str, float] = {}
        self._ticking: set[str] = set()
        self._measured: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._clock_on = False
        self._clocks: dict[str, asyncio.Task[None]] = {}  # each room's clock (_run_clock)
        self._asked: dict[str, float] = {}  # when this process was last asked about a room
        self._reading: dict[str, asyncio.Task[RoomEvent | None]] = {}  # reads in flight (_read)
        self._pushes = asyncio.Semaphore(PUSHES_AT_ONCE)
        self._pace = rules.Pace(
            floor=settings.waiting_room_min_rate,
            ceiling=settings.waiting_room_max_rate,
            headroom=settings.waiting_room_headroom,
            latency_target_ms=settings.waiting_room_hold_latency_target_ms,
        )

    # --- the event: this process's copy, at most EVENT_TTL_SECONDS old ---

    async def event(self, event_id: str) -> RoomEvent | None:
        cached = self._events.get(event_id)
        if cached is not None and time.monotonic() - cached[0] < EVENT_TTL_SECONDS:
            return cached[1]
        # shielded: a caller that gives up (its request cancelled) leaves the read to the rest
        return await asyncio.shield(self._read(event_id))

    def cached_event(self, event_id: str) -> RoomEvent | None | bool:
        """This process's fresh copy without I/O; False when it has none. A copy past half its
        life is refreshed in the background, so a steady stream of callers always finds one."""
        cached = self._events.get(event_id)
        age = EVENT_TTL_SECONDS if cached is None else time.monotonic() - cached[0]
        if age >= EVENT_TTL_SECONDS / 2 and event_id not in self._reading:
            self._spawn(self._refresh(event_id))
        if cached is None or age >= EVENT_TTL_SECONDS:
            return False
        return cached[1]

    def _read(self, event_id: str) -> asyncio.Task[RoomEvent | None]:
        """The read of the event in flight, or a new one. Every caller that finds the copy
        stale waits for the same read: under a crowd's asks a stale copy was read once per
        caller until one read came back, those reads queued for the database's connections,
        so each took longer and more callers found the copy stale (docs/measurements.md)."""
        reading = self._reading.get(event_id)
        if reading is None:
            reading = self._reading[event_id] = asyncio.create_task(self._read_event(event_id))
            self._tasks.add(reading)

            def done(task: asyncio.Task[RoomEvent | None]) -> None:
                self._tasks.discard(task)
                if self._reading.get(event_id) is task:
                    del self._reading[event_id]
                if not task.cancelled():
                    task.exception()  # its callers have it; one that gave up must not log it

            reading.add_done_callback(done)
        return reading

    async def _read_event(self, event_id: str) -> RoomEvent | None:
        started = time.monotonic()
        found = await self._run_sync(room_event, self._engine, event_id)
        if self._reading.get(event_id) is asyncio.current_task():  # not forgotten meanwhile
            self._keep(event_id, found, started)
        return found

    async def _refresh(self, event_id: str) -> None:
        try:
            await self._read(event_id)
        except Exception as exc:  # noqa: BLE001 - the next caller reads it itself
            log.warning("event %s not read for its waiting room: %s", event_id, exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep(self, event_id: str, found: RoomEvent | None, copied_at: float) -> None:
        """Keeps this process's copy; when it ends the wait (sold out, closed, the room switched
        off) where the last one did not, it wakes the subscriptions waiting on the event."""
        before = self._events.get(event_id, (0.0, None))[1]
        self._events[event_id] = (copied_at, found)
        if before is not None and not _wait_over(before) and _wait_over(found):
            changed = self._changed.pop(event_id, None)
            if changed is not None:
                changed.set()

    async def until_changed(self, event_id: str, seconds: float) -> None:
        """Waits ``seconds``, or less when this process sees the wait end meanwhile: every
        buyer still waiting hears the sale sold out or closed within a second of this process's
        copy, not at its next poll. Only the end wakes them all at once: its answer is each
        subscription's last, while one wake of a crowd mid-sale (its opening, a pause) would
        be ten thousand statuses in the same moment."""
        changed = self._changed.get(event_id)
        if changed is None:  # not setdefault: every subscription's every wait passes here
            changed = self._changed[event_id] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()

    async def pushed_status(self, user_id: str, event_id: str) -> QueueStatus:
        """``status`` for a subscription's next push, at most ``PUSHES_AT_ONCE`` at a time in
        this process: the rest wait their turn here."""
        async with self._pushes:
            return await self.status(user_id, event_id)

    def forget(self, event_id: str) -> None:
        """Makes this process's copy stale: the next caller reads the event (and a change
        from the copy wakes the event's subscriptions)."""
        cached = self._events.get(event_id)
        if cached is not None:
            self._events[event_id] = (-math.inf, cached[1])
        self._reading.pop(event_id, None)  # a read begun before the change is not the copy

    async def switch(self, event_id: str, enabled: bool) -> None:
        await self._run_sync(switch_waiting_room, self._engine, event_id, enabled)
        self.forget(event_id)

    # --- admissions: the hold path's check (a signature, no I/O) ---

    def admits(self, token: object, user_id: str, event_id: str) -> bool:
        return self._signer.admits(token, user_id, event_id)

    async def require_admission(self, user_id: str, event_id: str, token: object) -> bool:
        """Whether the room is on for the event (True) or off; raises NOT_ADMITTED when it is
        on and ``token`` is not the caller's live admission to this event. Reads the event at
        most once a second per process; the admission itself is a signature check."""
        event = await self.event(event_id)
        if event is None or not event.room_on:
            return False
        if not self.admits(token, user_id, event_id):
            raise not_admitted()
        return True

    async def turn_used(self, user_id: str, event_id: str, seats: int) -> None:
        """The buyer held ``seats`` within its turn. Best effort: a turn not marked used is
        counted lost at its deadline, which only lets the next buyer in a little sooner."""
        try:
            await self._store.turn_used(event_id, user_id, seats, self._now_ms())
        except Exception as exc:  # noqa: BLE001 - never fail a hold that succeeded
            log.warning("turn of %s for %s not marked used: %s", user_id, event_id, exc)

    async def payment_answered(
        self, event_id: str, seats: int, paid: bool, submitted_ms: int
    ) -> None:
        """A payment for ``seats`` seats of the event, submitted at ``submitted_ms`` (epoch
        ms), was answered: the room counts what share is declined (its forecast's
        failed share). Only while the room is on, and best effort: a payment not counted only
        leaves the share a little less measured."""
        event = await self.event(event_id)
        if event is None or not event.room_on:
            return
        try:
            await self._store.payment_answered(event_id, seats, paid, submitted_ms)
        except Exception as exc:  # noqa: BLE001 - never fail a payment that was answered
            log.warning("payment for %s not counted in its waiting room: %s", event_id, exc)

    # --- buyers ---

    async def join(self, user_id: str, event_id: str) -> QueueStatus:
        event = await self._room(event_id)
        if event.status in rules.CLOSED_STATUSES:
            raise DomainError(ErrorCode.INVALID_STATE, f"the event is {event.status}")
        if event.status != "SOLD_OUT":
            opened = event.status in rules.OPENED_STATUSES
            # A CSPRNG key, kept hidden until the opening: an early or fast join gains nothing.
            key = rules.pre_queue_key(secrets.SystemRandom().random())
            await self._store.join(event.id, user_id, opened, key, self._now_ms())
        return await self._status(event, user_id)

    async def status(self, user_id: str, event_id: str) -> QueueStatus:
        event = await self.event(event_id)
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "event not found")
        if not event.room_on:
            return QueueStatus(
                event.id,
                False,
                QueueState.NOT_QUEUED,
                message=_messages(QueueStatus(event.id, False, QueueState.NOT_QUEUED)),
            )
        return await self._status(event, user_id)

    async def _room(self, event_id: str) -> RoomEvent:
        event = await self.event(event_id)
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "event not found")
        if not event.room_on:
            raise DomainError(ErrorCode.INVALID_STATE, "this event has no waiting room")
        return event

    async def _status(self, event: RoomEvent, user_id: str) -> QueueStatus:
        self._keep_time(event)
        # The ask ticks as well as the clock (both within one TICK_SECONDS per process, so it
        # costs nothing more): the buyer's answer is as fresh as the room allows, and a room
        # whose clock is not started (tests, tools) still advances.
        await self._tick(event)
        entry = await self._store.entry(event.id, user_id)
        copied_at = self._events.get(event.id, (0.0, None))[0]
        if (
            entry.opened_ms is not None
            and event.status == rules.PRE_OPENING_STATUS
            and time.monotonic() - copied_at >= REREAD_AFTER_OPENING_SECONDS
        ):
            # Another process saw the opening first and this one's copy of the event is older:
            # read it now, or this process would tell its buyers "no ETA" (and tick nothing)
            # for up to EVENT_TTL_SECONDS, and they would not ask again for a while.
            self.forget(event.id)
            fresh = await self.event(event.id)
            if fresh is not None and fresh.status in rules.OPENED_STATUSES:
                event = fresh
                self._ticked.pop(event.id, None)
                await self._tick(event)
                entry = await self._store.entry(event.id, user_id)
        now_ms = self._now_ms()
        state = rules.buyer_state(
            event.status,
            entry.rank,
            entry.admitted,
            entry.deadline_ms,
            entry.lost,
            entry.opened_ms is not None or event.status in rules.OPENED_STATUSES,
            now_ms,
        )
        status = QueueStatus(event.id, True, state, queued=entry.queued)
        if state == QueueState.PRE_QUEUE and entry.rank is not None:
            ask_after = rules.pre_queue_poll_after_ms(now_ms, _opens_ms(event), entry.rank)
            status = replace(status, poll_after_ms=ask_after)
        if state in (QueueState.WAITING, QueueState.ADMITTED) and entry.rank is not None:
            plan = rules.Forecast.decode(entry.plan)
            place = rules.place(entry.rank, entry.admitted, plan, now_ms)
            status = QueueStatus(
                event.id,
                True,
                state,
                position=place.position,
                ahead=place.ahead,
                eta_seconds=place.eta_seconds,
                turn_at_ms=place.turn_at_ms,
                queued=entry.queued,
                seats_may_come_back=entry.capacity == 0,
                poll_after_ms=rules.poll_after_ms(place.eta_seconds, place.ahead),
            )
        if state == QueueState.ADMITTED and entry.deadline_ms is not None:
            assert entry.rank is not None
            expires = entry.deadline_ms // 1000
            token = self._signer.issue(Admission(user_id, event.id, entry.rank + 1, expires))
            turn_ms = self._settings.waiting_room_turn_seconds * 1000
            status = QueueStatus(
                **{
                    **status.__dict__,
                    "admission": token,
                    "admission_expires_at": expires,
                    "admitted_at_ms": entry.given_at_ms or entry.deadline_ms - turn_ms,
                    "seats_may_come_back": False,
                }
            )
        return QueueStatus(**{**status.__dict__, "message": _messages(status)})

    # --- the controller ---

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def start_clock(self) -> None:
        """From now on every room asked about on this process is ticked by a clock of its own
        (the module doc); the API's lifespan starts it, tests and tools leave it off."""
        self._clock_on = True

    async def aclose(self) -> None:
        """Ends the rooms' clocks and this process's other background work for the rooms (a
        copy of an event being read, a pace being measured), and starts no clock after."""
        self._clock_on = False
        tasks = [*self._clocks.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._clocks.clear()  # a clock cancelled before it first ran never removed itself

    def _keep_time(self, event: RoomEvent) -> None:
        """A buyer asked about the room: its clock runs on, or starts if it does not run."""
        self._asked[event.id] = time.monotonic()
        clock = self._clocks.get(event.id)
        if self._clock_on and (clock is None or clock.done()) and not _wait_over(event):
            self._clocks[event.id] = asyncio.create_task(
                self._run_clock(event.id), name=f"waiting-room-clock-{event.id}"
            )

    async def _run_clock(self, event_id: str) -> None:
        """Ticks the room every TICK_SECONDS until its wait is over or CLOCK_IDLE_SECONDS pass
        without an ask here. The copy of the event is read again each time (it is at most
        EVENT_TTL_SECONDS old), so the clock sees the opening, a pause or the end."""
        failures = 0
        try:
            while time.monotonic() - self._asked.get(event_id, 0.0) < CLOCK_IDLE_SECONDS:
                try:
                    event = await self.event(event_id)
                    if event is None or _wait_over(event):
                        return
                    await self._tick(event)
                except Exception as exc:  # noqa: BLE001 - an outage passes: the clock goes on
                    if failures == 0:  # once per outage, not four times a second
                        # An outage is its own news (Redis, PostgreSQL); anything else is a bug.
                        expected = isinstance(exc, RedisError | OSError | SQLAlchemyError)
                        log.warning(
                            "waiting room %s not ticked: %s", event_id, exc, exc_info=not expected
                        )
                    failures += 1
                else:
                    if failures:
                        log.info("waiting room %s ticks again (%d failed)", event_id, failures)
                    failures = 0
                await asyncio.sleep(TICK_SECONDS)
        finally:
            if self._clocks.get(event_id) is asyncio.current_task():
                del self._clocks[event_id]

    async def _tick(self, event: RoomEvent) -> None:
        """Advances the room's cursor, if this process's turn to (see the module doc)."""
        now = time.monotonic()
        if now - self._ticked.get(event.id, 0.0) < TICK_SECONDS or event.id in self._ticking:
            return
        self._ticked[event.id] = now
        opened = event.status in rules.OPENED_STATUSES
        if now - self._measured.get(event.id, 0.0) >= self._settings.waiting_room_measure_seconds:
            self._measured[event.id] = now
            # Before the opening too: the first forecast's estimate of a turn's seats.
            self._spawn(self._measure(event.id, opened))
        if not opened:
            # The pre-queue waits for the opening; its keys decide the order then. The lease
            # is left alone: a process that sees the opening first ticks at once. The opening's
            # forecast is written ahead, so buyers told their place at the opening, before
            # its first tick is done, are told an ETA too.
            if event.status == rules.PRE_OPENING_STATUS:
                await self._forecast_opening(event)
            return
        # One tick of a room at a time, here and (the lease) anywhere: on a busy API process a
        # tick's reads wait their turn on the event loop, and a tick that overlapped the one
        # before it read the same cursor and only lost to it.
        self._ticking.add(event.id)
        try:
            if await self._store.lease(event.id, LEASE_MS):
                await self._advance(event)
        finally:
            self._ticking.discard(event.id)

    async def _advance(self, event: RoomEvent) -> None:
        """One tick under the lease: what to admit now, and the forecast of the turns after."""
        now_ms = self._now_ms()
        admitting = event.status == rules.ADMITTING_STATUS
        if admitting:
            snap, available, held = await asyncio.gather(
                self._store.snapshot(event.id, now_ms),
                self._available(event.id),
                self._store.held_expiries_ms(event.id, now_ms),
            )
        else:
            snap = await self._store.snapshot(event.id, now_ms)
        rate = self._rate(snap)
        capacity, count, credit = 0, 0, 0.0
        fields: dict[str, float | int | str] = {}
        if admitting:
            if snap.tick_ms is None:
                elapsed = rules.opening_elapsed_s(now_ms, _opens_ms(event))
            else:
                elapsed = (now_ms - snap.tick_ms) / 1000
                gap = rules.smoothed(snap.tick_gap_ms, now_ms - snap.tick_ms, TICK_GAP_WEIGHT)
                fields["tick_gap_ms"] = round(gap)
            credit = rules.accrue(snap.credit, rate, elapsed)
            # A turn that holds takes per_holder seats; the turns given take per_turn on
            # average, since some end unused (see rules.seats_per_turn).
            per_holder = self._seats_per_turn(snap)
            per_turn = self._seats_per_turn(snap, snap.lost)
            how = self._measured_returns(snap, now_ms)
            returns = rules.expected_returns(now_ms, available, held, how, rate * per_turn)
            lead_ms = int(self._settings.waiting_room_return_lead_seconds * 1000)
            soon = rules.returning_within(returns, now_ms, lead_ms)
            capacity = rules.seat_capacity(available + soon, per_holder)
            count = rules.admissions_now(
                credit, capacity, snap.outstanding, snap.queued - snap.admitted
            )
            waiting = snap.queued - snap.admitted - count
            plan = self._forecast(
                event, snap, now_ms, (rate, credit - count), available, held, waiting, count, how
            )
            fields["plan"] = plan.encode()
        else:
            fields["plan"] = ""  # paused: no turn comes until the sale resumes
        fields |= {"credit": round(credit - count, 4), "capacity": capacity}
        if snap.win_ms is None or now_ms - snap.win_ms >= PACE_WINDOW_MS:
            if snap.win_ms is not None:
                # Windows without an admission count too: the pace the queue actually moves
                # at includes the pauses while every seat is held.
                sample = (snap.admitted - snap.win_n) / ((now_ms - snap.win_ms) / 1000)
                fields["pace"] = round(rules.smoothed(snap.pace, sample), 3)
            fields["win_ms"], fields["win_n"] = now_ms, snap.admitted
        deadline = rules.turn_deadline_ms(now_ms, self._settings.waiting_room_turn_seconds)
        await self._store.admit(event.id, snap.admitted, count, deadline, now_ms, fields)

    async def _forecast_opening(self, event: RoomEvent) -> None:
        """The turns to come at the opening: every seat available, nothing held, nobody
        admitted yet; the tick after the opening replaces it."""
        now_ms = self._now_ms()
        snap = await self._store.snapshot(event.id, now_ms)
        if snap.opened_ms is not None:
            return  # another process saw the opening: its ticks' forecasts are the ones to keep
        rate = self._rate(snap)
        available = await self._available(event.id)
        # From the opening, which starts with one second's worth of credit, as the first tick.
        opens_ms = _opens_ms(event) or now_ms
        # Buyers still join the pre-queue until the opening: turns for as many as the seats could
        # serve, so that the last to join before it are told an ETA too.
        waiting = max(snap.queued, event.sellable_seats)
        plan = self._forecast(
            event, snap, max(now_ms, opens_ms), (rate, rate), available, [], waiting
        )
        await self._store.record(event.id, {"plan": plan.encode()})

    def _forecast(
        self,
        event: RoomEvent,
        snap: RoomSnapshot,
        now_ms: int,
        pace: tuple[float, float],
        available: int,
        held: list[int],
        waiting: int,
        admitting: int = 0,
        how: rules.Returns | None = None,
    ) -> rules.Forecast:
        """The turns to come for ``waiting`` buyers after this tick's ``admitting`` new ones,
        from ``snap`` at ``pace`` (the rate, the credit left), held seats coming back as
        ``how`` says (None: the settings)."""
        rate, credit = pace
        return room_forecast(
            self._settings,
            now_ms=now_ms,
            rate=rate,
            credit=credit,
            available=available,
            held_expiries_ms=held,
            unused_deadlines_ms=list(snap.unused_deadlines_ms),
            used=(snap.turns_used, snap.turn_seats, snap.order_size),
            ended=(snap.lost, snap.ended),
            tick_gap_ms=snap.tick_gap_ms,
            hold_delays_ms=snap.hold_delays_ms,
            hold_latency_ms=snap.hold_ms,
            sellable_seats=event.sellable_seats,
            waiting=waiting,
            admitting=admitting,
            how=how,
        )

    def _rate(self, snap: RoomSnapshot) -> float:
        """The admission rate the room runs at: the last measured, the floor before any."""
        return snap.rate if snap.rate is not None else self._pace.floor

    def _measured_returns(self, snap: RoomSnapshot, now_ms: int) -> rules.Returns:
        return room_measured_returns(self._settings, snap.payments, now_ms)

    def _seats_per_turn(self, snap: RoomSnapshot, lost_turns: int = 0) -> float:
        prior = snap.order_size or self._settings.waiting_room_seats_per_buyer
        return rules.seats_per_turn(snap.turn_seats, snap.turns_used + lost_turns, prior)

    async def _measure(self, event_id: str, opened: bool) -> None:
        """The saga's pace: checkouts finished per second, and this process's hold latency;
        and, once per room, the seats per order of the platform's recent sales."""
        try:
            period_ms = int(self._settings.waiting_room_measure_seconds * 1000)
            if not await self._store.measure_lease(event_id, period_ms):
                return
            fields: dict[str, float | int] = {}
            (order_size,) = await self._store.meta(event_id, "order_size")
            sample = self._settings.waiting_room_order_size_sample
            if order_size is None and sample > 0:
                recent = await self._run_sync(recent_order_size, self._engine, sample)
                # Once per room: with no such order yet, the configured guess stands for it.
                guess = self._settings.waiting_room_seats_per_buyer
                fields["order_size"] = round(guess if recent is None else recent, 3)
            if opened:
                fields |= await self._pace_fields(event_id)
            if fields:
                await self._store.record(event_id, fields)
        except Exception as exc:  # noqa: BLE001 - the last rate stands until the next try
            log.warning("waiting room pace of %s not measured: %s", event_id, exc)

    async def _pace_fields(self, event_id: str) -> dict[str, float | int]:
        finished = await self._finished(event_id)
        now_ms = self._now_ms()
        last_n, last_ms, last_rate = await self._store.meta(
            event_id, "finished", "finished_ms", "completions_per_s"
        )
        fields: dict[str, float | int] = {"finished": finished, "finished_ms": now_ms}
        completions = last_rate or 0.0
        if last_n is not None and last_ms is not None and now_ms > last_ms:
            sample = max(0.0, finished - last_n) / ((now_ms - last_ms) / 1000)
            completions = rules.smoothed(last_rate, sample)
        latency = self._latency.sample()
        fields["completions_per_s"] = round(completions, 3)
        if latency is not None:
            fields["hold_ms"] = round(latency, 1)
        fields["rate"] = rules.next_rate(completions, latency, self._pace)
        return fields

    # --- operators ---

    async def operator_view(self, event_id: str) -> dict[str, Any]:
        event = await self.event(event_id)
        if event is None:
            raise DomainError(ErrorCode.NOT_FOUND, "event not found")
        now_ms = self._now_ms()
        snap = await self._store.snapshot(event.id, now_ms)
        holds = room_first_holds(
            self._settings, now_ms, snap.hold_delays_ms, snap.unused_deadlines_ms, snap.lost
        )
        return {
            "event_id": event.id,
            "enabled": event.room_on,
            "switched_on": event.switched_on,
            "opened": snap.opened_ms is not None,
            "queued": snap.queued,
            "admitted": snap.admitted,
            "unused_turns": snap.outstanding,
            "lost_turns": snap.lost,
            "admission_rate": self._rate(snap),
            "admission_pace": snap.pace,
            "completions_per_second": snap.completions_per_s,
            "hold_latency_ms": snap.hold_ms,
            "seat_capacity": snap.capacity,
            "seats_per_turn": round(self._seats_per_turn(snap), 2),
            "failed_share": round(self._measured_returns(snap, now_ms).failed_share, 3),
            "soonest_hold_seconds": room_hold_after_ms(self._settings, holds.wait) / 1000,
            "lost_share": round(
                room_lost_share(self._settings, holds.lost, (snap.lost, snap.ended)), 3
            ),
            "max_rate": self._pace.ceiling,
            "turn_seconds": self._settings.waiting_room_turn_seconds,
        }

    async def admissions(self, event_id: str) -> list[tuple[str, int]]:
        """(buyer, the moment ms its turn was given) of every turn given so far."""
        return await self._store.admitted_order(event_id)


def _wait_over(event: RoomEvent | None) -> bool:
    """Whether the event's waiting buyers are done waiting: sold out, not selling, no room."""
    return (
        event is None
        or event.status == "SOLD_OUT"
        or event.status in rules.CLOSED_STATUSES
        or not event.room_on
    )


def _opens_ms(event: RoomEvent) -> int | None:
    return int(event.on_sale_at.timestamp() * 1000) if event.on_sale_at else None


def room_returns(settings: Settings) -> rules.Returns:
    """How held seats come back, from the settings' waiting-room block."""
    return rules.Returns(
        hold_seconds=settings.hold_seconds,
        pay_seconds=settings.waiting_room_pay_seconds,
        failed_share=settings.waiting_room_failed_share,
        abandoned_share=settings.waiting_room_abandoned_share,
    )


def room_measured_returns(
    settings: Settings, payments: Sequence[tuple[int, int, int]], now_ms: int
) -> rules.Returns:
    """How held seats come back, the failed share measured on the sale's payments whose
    seconds have all been answered (``domain.waiting_room.settled_payments``)."""
    settle_ms = int(settings.waiting_room_payment_settle_seconds * 1000)
    declined, paid = rules.settled_payments(payments, now_ms, settle_ms)
    return rules.measured_returns(room_returns(settings), declined, paid)


class FirstHoldsReads(NamedTuple):
    """The sale's first holds (``domain.waiting_room.FirstHolds``), read twice."""

    wait: rules.FirstHolds | None  # every age: how soon buyers hold
    # the ages at which ``rules.LOST_SHARE_AT_RISK`` of the turns are still at risk: the share
    # of turns that end unused, and how likely an unused turn of an age is among them
    lost: rules.FirstHolds | None


def room_first_holds(
    settings: Settings,
    now_ms: int,
    delays_ms: Sequence[tuple[int, int]],
    unused_deadlines_ms: Sequence[int],
    lost: int,
) -> FirstHoldsReads:
    """How long the sale's turns wait for their first hold, from the first holds' delays (ms,
    turns), the unused turns' deadlines and the turns lost."""
    turn_ms = settings.waiting_room_turn_seconds * 1000
    ages_ms = [now_ms - (deadline - turn_ms) for deadline in unused_deadlines_ms]
    return FirstHoldsReads(
        rules.FirstHolds.read(delays_ms, ages_ms, lost, turn_ms),
        rules.FirstHolds.read(delays_ms, ages_ms, lost, turn_ms, rules.LOST_SHARE_AT_RISK),
    )


def room_hold_after_ms(settings: Settings, first_holds: rules.FirstHolds | None) -> int:
    """How long after its turn a buyer holds, as the ETAs count it, the settings' guess until
    the sale's first holds tell (``domain.waiting_room.hold_after_ms``)."""
    return rules.hold_after_ms(
        first_holds,
        settings.waiting_room_turn_seconds * 1000,
        int(settings.waiting_room_hold_after_seconds * 1000),
    )


def room_lost_share(
    settings: Settings, first_holds: rules.FirstHolds | None, ended: tuple[int, int]
) -> float:
    """The share of turns that end unused: over the turns whose deadline has passed (``ended``:
    lost, ended), starting from what the sale's first holds say, the settings' guess before."""
    turn_ms = settings.waiting_room_turn_seconds * 1000
    start = (
        settings.waiting_room_lost_share if first_holds is None else first_holds.unused_at(turn_ms)
    )
    return rules.lost_share(*ended, start)


def room_forecast(
    settings: Settings,
    *,
    now_ms: int,
    rate: float,
    credit: float,
    available: int,
    held_expiries_ms: list[int],
    unused_deadlines_ms: list[int],
    used: tuple[int, int, float | None],
    ended: tuple[int, int],
    sellable_seats: int,
    waiting: int,
    admitting: int = 0,
    tick_gap_ms: float | None = None,
    how: rules.Returns | None = None,
    hold_delays_ms: Sequence[tuple[int, int]] = (),
    hold_latency_ms: float | None = None,
) -> rules.Forecast:
    """The turns to come, the room's rule played forward (``domain.waiting_room_forecast``)
    with the settings' model of its buyers: the tick's forecast, and the bench's replay of it
    (``bench/room_timeline.py``). ``used``: turns used, the seats they took, and the platform's
    seats per order (None: the configured guess); ``ended``: turns lost, and turns whose
    deadline has passed; ``admitting``: this tick's new turns; ``tick_gap_ms``: how far apart
    the room's ticks come (None: as often as they may); ``how``: how held seats come back (None:
    as the settings say); ``hold_delays_ms``: how long after their turn buyers first held, as
    (ms, turns); ``hold_latency_ms``: how long holds take at the saga now (None: not measured).
    How soon buyers hold and the share of turns that end unused are read from the first holds
    and the unused turns' ages (``domain.waiting_room.FirstHolds``), the settings' guesses
    before them."""
    turns_used, turn_seats, order_size = used
    prior = order_size or settings.waiting_room_seats_per_buyer
    turn_ms = settings.waiting_room_turn_seconds * 1000
    unused = [deadline - turn_ms for deadline in unused_deadlines_ms] + [now_ms] * admitting
    behind = rules.falling_behind(hold_latency_ms, settings.waiting_room_hold_latency_target_ms)
    holds = room_first_holds(settings, now_ms, hold_delays_ms, unused_deadlines_ms, ended[0])
    turns = Turns(
        seats=rules.seats_per_turn(turn_seats, turns_used, prior),
        hold_after_ms=room_hold_after_ms(settings, holds.wait),
        turn_ms=turn_ms,
        # Falling behind, the saga takes what the rate was derived from: rate / headroom
        # checkouts a second; keeping up, the holds as they come.
        holds_per_s=rate / settings.waiting_room_headroom if behind else math.inf,
        lost_share=room_lost_share(settings, holds.lost, ended),
    )
    return play_forward(
        now_ms,
        rate,
        credit,
        available,
        held_expiries_ms,
        unused,
        sellable_seats,
        (turns_used, turn_seats, prior),
        how or room_returns(settings),
        turns,
        int(settings.waiting_room_return_lead_seconds * 1000),
        waiting,
        tick_gap_ms,
        None if holds.lost is None else holds.lost.unused_at,
    )


def not_admitted() -> DomainError:
    return DomainError(
        ErrorCode.NOT_ADMITTED,
        "this sale has a waiting room: join the queue (joinQueue) and hold with the admission "
        "it gives you when it is your turn",
    )
