"""The waiting rooms' state in Redis: each event's queue, turns and admission cursor.

Keys, under ``<prefix>wr:<event id>:``:
- ``q``: sorted set, buyer -> key (``domain.waiting_room``: a hidden random key in [0, 1)
  for the pre-queue, ``1 + n`` for the n-th arrival after the opening). One entry per account:
  ``ZADD NX``. Entries are never removed or moved, so a position never changes.
- ``meta``: hash: ``admitted`` (the first that many positions have their turn), ``opened_ms``,
  the pace (``rate``, ``credit``, ``tick_ms``; ``tick_gap_ms``: how far apart ticks come,
  smoothed), the measured admission pace for ETAs
  (``pace``, ``win_ms``, ``win_n``), what the pace was derived from (operators read it), and
  the latest forecast of the turns to come (``plan``, ``domain.waiting_room.Forecast``), and
  what turns take (``turns_used``, ``turn_seats``: seats held within them; ``order_size``: the
  platform's recent orders, read once for the room's first estimate).
- ``turns``: sorted set, buyer -> turn deadline (ms), for turns not used yet;
  ``granted``: hash, buyer -> deadline, every turn ever given (to re-issue the same admission);
  ``given_at``: hash, buyer -> the moment (ms) its turn was given (one value per admission
  batch: the batch is what fairness is measured by);
  ``used``: set, buyers who held within their turn; ``lost``: set, buyers whose turn ended
  unused (they lose it: one entry per account, no second turn); ``ends``: hash, deadline ->
  turns given with it, until it passes and they count in ``meta``'s ``ended`` (how many
  turns are decided, used or lost: what the lost share is measured over); ``delays``: hash,
  how long after its turn each buyer first held (quarter seconds) -> turns; ``payments``:
  hash, ``<second submitted>:paid`` / ``:declined`` -> seats, of the payments answered.
- ``lease``: the one API process that advances the cursor now (``SET NX PX``), until its
  tick's admission script ends it (or it expires, if that process died mid-tick).

Every write that must be atomic is one Lua script. What is decided (how many to admit, the
pace) is decided in Python by ``domain.waiting_room``; the scripts only apply it, and the
admission script applies it only if the cursor is still where the decision saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from adapters.seat_claims import GRANT, claims_key
from domain.waiting_room import ARRIVALS_START

KEY_TTL_SECONDS = 7 * 86400  # an on-sale's room outlives its sale by a week, then goes
DELAY_BUCKET_MS = 250  # the holds' delays after their turn are counted to a quarter second

_JOIN = """
local q, meta = KEYS[1], KEYS[2]
local existing = redis.call('ZSCORE', q, ARGV[1])
if existing then return {0, existing} end
local opened = redis.call('HGET', meta, 'opened_ms')
if ARGV[2] == '1' and not opened then
  redis.call('HSET', meta, 'opened_ms', ARGV[4])
  opened = ARGV[4]
end
local key = ARGV[3]
if opened then
  key = tostring(tonumber(ARGV[5]) + redis.call('HINCRBY', meta, 'arrivals', 1))
end
redis.call('ZADD', q, 'NX', key, ARGV[1])
for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ARGV[6]) end
return {1, key}
"""

# Ends the turns whose deadline passed unused, counts every turn whose deadline passed, then
# reports the room.
_SNAPSHOT = """
local q, turns, lost, meta, ends = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local delays, payments = KEYS[6], KEYS[7]
local expired = redis.call('ZRANGEBYSCORE', turns, '-inf', ARGV[1])
for _, buyer in ipairs(expired) do
  redis.call('ZREM', turns, buyer)
  redis.call('SADD', lost, buyer)
end
if #expired > 0 then redis.call('HINCRBY', meta, 'lost', #expired) end
local deadlines = redis.call('HGETALL', ends)
for i = 1, #deadlines, 2 do
  if tonumber(deadlines[i]) <= tonumber(ARGV[1]) then
    redis.call('HINCRBY', meta, 'ended', deadlines[i + 1])
    redis.call('HDEL', ends, deadlines[i])
  end
end
local m = redis.call('HMGET', meta, 'admitted', 'credit', 'tick_ms', 'opened_ms', 'pace',
  'win_ms', 'win_n', 'rate', 'lost', 'completions_per_s', 'hold_ms', 'capacity', 'turns_used',
  'turn_seats', 'order_size', 'ended', 'tick_gap_ms')
return {m, redis.call('ZCARD', q), redis.call('ZCARD', turns), redis.call('SCARD', lost),
  redis.call('ZRANGE', turns, 0, -1, 'WITHSCORES'), redis.call('HGETALL', delays),
  redis.call('HGETALL', payments)}
"""

# Gives the next ARGV[2] positions their turn, if the cursor is still at ARGV[1]; either way
# the tick is over and its lease (KEYS[7]) ends, so the next tick, in any process, may start.
_ADMIT = """
local q, turns, granted, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local given_at, ends = KEYS[5], KEYS[6]
redis.call('DEL', KEYS[7])
local admitted = tonumber(redis.call('HGET', meta, 'admitted') or '0')
if admitted ~= tonumber(ARGV[1]) then return -1 end
if not redis.call('HGET', meta, 'opened_ms') then redis.call('HSET', meta, 'opened_ms', ARGV[4]) end
local n = tonumber(ARGV[2])
local given = {}
if n > 0 then given = redis.call('ZRANGE', q, admitted, admitted + n - 1) end
for _, buyer in ipairs(given) do
  redis.call('ZADD', turns, ARGV[3], buyer)
  redis.call('HSET', granted, buyer, ARGV[3])
  redis.call('HSET', given_at, buyer, ARGV[4])
end
if #given > 0 then redis.call('HINCRBY', ends, ARGV[3], #given) end
redis.call('HSET', meta, 'admitted', admitted + #given, 'tick_ms', ARGV[4], unpack(ARGV, 6))
for i = 1, 6 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return #given
"""

_STATUS = """
local q, granted, used, lost, meta, given_at = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local rank = redis.call('ZRANK', q, ARGV[1])
local m = redis.call('HMGET', meta, 'admitted', 'opened_ms', 'pace', 'rate', 'capacity', 'plan')
return {rank or -1, redis.call('HGET', granted, ARGV[1]) or '',
  redis.call('SISMEMBER', used, ARGV[1]), redis.call('SISMEMBER', lost, ARGV[1]),
  m[1] or '0', m[2] or '', m[3] or '', m[4] or '', redis.call('ZCARD', q), m[5] or '',
  m[6] or '', redis.call('HGET', given_at, ARGV[1]) or ''}
"""

# Marks the buyer's turn used and counts what it took: a turn once, its seats at every hold;
# and, once per turn, how long after it was given the buyer held (in DELAY_BUCKET_MS buckets).
_USED = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'turns_used', 1)
  local given = redis.call('HGET', KEYS[4], ARGV[1])
  if given then
    local bucket = math.floor(math.max(tonumber(ARGV[4]) - tonumber(given), 0) / tonumber(ARGV[5]))
    redis.call('HINCRBY', KEYS[5], bucket, 1)
    redis.call('EXPIRE', KEYS[5], ARGV[2])
  end
end
redis.call('HINCRBY', KEYS[3], 'turn_seats', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2])
"""


def _num(value: object, default: float = 0.0) -> float:
    if value is None or value == b"" or value == "":
        return default
    return float(value.decode() if isinstance(value, bytes) else str(value))


def _opt(value: object) -> float | None:
    return None if value is None or value in (b"", "") else _num(value)


def hold_delays(buckets: dict[Any, Any]) -> tuple[tuple[int, int], ...]:
    """The ``delays`` hash as (ms, turns), soonest first: each bucket at its middle."""
    return tuple(
        sorted(
            (int(bucket) * DELAY_BUCKET_MS + DELAY_BUCKET_MS // 2, int(count))
            for bucket, count in buckets.items()
        )
    )


def payments_by_second(fields: dict[Any, Any]) -> tuple[tuple[int, int, int], ...]:
    """The ``payments`` hash as (the second submitted, seats paid, seats declined)."""
    seconds: dict[int, list[int]] = {}
    for name, seats in fields.items():
        second, _, outcome = (name.decode() if isinstance(name, bytes) else name).partition(":")
        seconds.setdefault(int(second), [0, 0])[outcome != "paid"] += int(seats)
    return tuple((second, paid, declined) for second, (paid, declined) in sorted(seconds.items()))


@dataclass(frozen=True)
class RoomSnapshot:
    admitted: int
    credit: float
    tick_ms: int | None
    opened_ms: int | None
    pace: float | None  # admissions/s actually made, smoothed (the ETAs' pace)
    win_ms: int | None
    win_n: int
    rate: float | None  # the pace allowed (next_rate)
    queued: int
    outstanding: int  # turns given and not used yet
    lost: int
    completions_per_s: float | None
    hold_ms: float | None
    capacity: int | None
    turns_used: int = 0  # turns in which the buyer held
    turn_seats: int = 0  # seats held within them
    order_size: float | None = None  # seats per order in the platform's recent sales
    ended: int = 0  # turns whose deadline has passed, used or lost
    tick_gap_ms: float | None = None  # how far apart ticks come, smoothed
    # the payments answered: (the second they were submitted, seats paid, seats declined)
    payments: tuple[tuple[int, int, int], ...] = ()
    unused_deadlines_ms: tuple[int, ...] = ()  # of the turns given and not used yet
    # how long after its turn was given each buyer first held: (ms, the middle of its
    # DELAY_BUCKET_MS; turns)
    hold_delays_ms: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class BuyerEntry:
    rank: int | None  # 0-based; None: not in the queue
    deadline_ms: int | None  # the end of the buyer's turn, once given
    used: bool
    lost: bool
    admitted: int
    opened_ms: int | None
    pace: float | None
    rate: float | None
    queued: int
    capacity: int | None  # buyers the available seats could serve at the last tick
    plan: str | None  # the latest forecast, encoded (``Forecast.decode``)
    given_at_ms: int | None  # when the buyer's turn was given


class RedisWaitingRooms:
    def __init__(self, client: aredis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._join = client.register_script(_JOIN)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._admit = client.register_script(_ADMIT)
        self._status = client.register_script(_STATUS)
        self._used = client.register_script(_USED)

    def _k(self, event_id: str, name: str) -> str:
        return f"{self._prefix}wr:{event_id}:{name}"

    async def join(
        self, event_id: str, user_id: str, opened: bool, random_key: float, now_ms: int
    ) -> bool:
        """Queues the buyer (True) or finds it queued already (False). Before the opening
        (neither ``opened`` nor recorded as opened) with ``random_key``, after it in arrival
        order."""
        result = await self._join(
            keys=[self._k(event_id, "q"), self._k(event_id, "meta")],
            args=[
                user_id,
                "1" if opened else "0",
                repr(random_key),
                now_ms,
                repr(ARRIVALS_START),
                KEY_TTL_SECONDS,
            ],
        )
        return int(result[0]) == 1

    async def snapshot(self, event_id: str, now_ms: int) -> RoomSnapshot:
        names = ("q", "turns", "lost", "meta", "ends", "delays", "payments")
        keys = [self._k(event_id, n) for n in names]
        meta, queued, outstanding, lost_now, unused, delays, payments = await self._snapshot(
            keys=keys, args=[now_ms]
        )
        *room, turns_used, turn_seats, order_size, ended, tick_gap = meta
        (admitted, credit, tick, opened, pace, win_ms, win_n, rate, lost, done, hold, cap) = room
        return RoomSnapshot(
            admitted=int(_num(admitted)),
            credit=_num(credit),
            tick_ms=None if tick is None else int(_num(tick)),
            opened_ms=None if opened is None else int(_num(opened)),
            pace=_opt(pace),
            win_ms=None if win_ms is None else int(_num(win_ms)),
            win_n=int(_num(win_n)),
            rate=_opt(rate),
            queued=int(queued),
            outstanding=int(outstanding),
            lost=int(lost_now),
            completions_per_s=_opt(done),
            hold_ms=_opt(hold),
            capacity=None if cap is None else int(_num(cap)),
            turns_used=int(_num(turns_used)),
            turn_seats=int(_num(turn_seats)),
            order_size=_opt(order_size),
            ended=int(_num(ended)),
            tick_gap_ms=_opt(tick_gap),
            payments=payments_by_second(dict(zip(payments[::2], payments[1::2], strict=True))),
            unused_deadlines_ms=tuple(int(_num(score)) for score in unused[1::2]),
            hold_delays_ms=hold_delays(dict(zip(delays[::2], delays[1::2], strict=True))),
        )

    async def admit(
        self,
        event_id: str,
        expected_admitted: int,
        count: int,
        deadline_ms: int,
        now_ms: int,
        fields: dict[str, float | int | str],
    ) -> int:
        """Gives the next ``count`` positions their turn until ``deadline_ms`` and records
        ``fields`` in the room's meta; -1 (nothing done) if another process moved the cursor."""
        names = ("q", "turns", "granted", "meta", "given_at", "ends", "lease")
        keys = [self._k(event_id, n) for n in names]
        flat: list[str | int | float] = []
        for name, value in fields.items():
            flat += [name, value]
        return int(
            await self._admit(
                keys=keys,
                args=[expected_admitted, count, deadline_ms, now_ms, KEY_TTL_SECONDS, *flat],
            )
        )

    async def entry(self, event_id: str, user_id: str) -> BuyerEntry:
        keys = [self._k(event_id, n) for n in ("q", "granted", "used", "lost", "meta", "given_at")]
        found = await self._status(keys=keys, args=[user_id])
        rank, deadline, used, lost, admitted, opened, pace, rate, queued, capacity, plan, given = (
            found
        )
        return BuyerEntry(
            rank=None if int(rank) < 0 else int(rank),
            deadline_ms=None if deadline in (b"", "") else int(_num(deadline)),
            used=bool(int(used)),
            lost=bool(int(lost)),
            admitted=int(_num(admitted)),
            opened_ms=None if opened in (b"", "") else int(_num(opened)),
            pace=_opt(pace),
            rate=_opt(rate),
            queued=int(queued),
            capacity=None if capacity in (b"", "") else int(_num(capacity)),
            plan=None if plan in (b"", "") else plan.decode(),
            given_at_ms=None if given in (b"", "") else int(_num(given)),
        )

    async def turn_used(self, event_id: str, user_id: str, seats: int, now_ms: int) -> None:
        """The buyer held ``seats`` within its turn at ``now_ms``: it no longer waits to be
        used (nor is lost), what it took counts toward what a turn takes, and (its first hold)
        how long after its turn it held."""
        names = ("turns", "used", "meta", "given_at", "delays")
        await self._used(
            keys=[self._k(event_id, n) for n in names],
            args=[user_id, KEY_TTL_SECONDS, seats, now_ms, DELAY_BUCKET_MS],
        )

    async def payment_answered(
        self, event_id: str, seats: int, paid: bool, submitted_ms: int
    ) -> None:
        """A payment for ``seats`` seats, submitted at ``submitted_ms``, was answered: paid
        for, or declined."""
        key = self._k(event_id, "payments")
        field = f"{submitted_ms // 1000}:{'paid' if paid else 'declined'}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, field, seats)
            pipe.expire(key, KEY_TTL_SECONDS)
            await pipe.execute()

    async def held_expiries_ms(self, event_id: str, now_ms: int) -> list[int]:
        """The expiry (epoch ms) of every live held seat of the event, one entry per seat, from
        the grants the saga records beside the claims (``adapters/seat_claims.py``): the locks
        DynamoDB granted, never a claim still on its way."""
        raw = await self._redis.hgetall(claims_key(self._prefix, event_id))  # type: ignore[misc]
        grant = GRANT.encode()
        expiries = []
        for name, value in raw.items():
            if name.startswith(grant):
                expires_ms = int(value.rpartition(b"|")[2]) * 1000
                if expires_ms >= now_ms:
                    expiries.append(expires_ms)
        return expiries

    async def lease(self, event_id: str, ms: int) -> bool:
        """Whether this caller may advance the room's cursor for the next ``ms``."""
        return bool(await self._redis.set(self._k(event_id, "lease"), b"1", nx=True, px=ms))

    async def measure_lease(self, event_id: str, ms: int) -> bool:
        """Whether this caller measures the saga's pace for the next ``ms``."""
        return bool(await self._redis.set(self._k(event_id, "measure"), b"1", nx=True, px=ms))

    async def record(self, event_id: str, fields: dict[str, float | int]) -> None:
        await self._redis.hset(self._k(event_id, "meta"), mapping=fields)  # type: ignore[misc]

    async def meta(self, event_id: str, *names: str) -> list[float | None]:
        values = await self._redis.hmget(self._k(event_id, "meta"), list(names))  # type: ignore[misc]
        return [_opt(v) for v in values]

    async def admitted_order(self, event_id: str) -> list[tuple[str, int]]:
        """(buyer, the moment ms its turn was given) of every turn given: the operators' and the
        bench's view."""
        raw = await self._redis.hgetall(self._k(event_id, "given_at"))  # type: ignore[misc]
        return [(k.decode(), int(v)) for k, v in raw.items()]
