"""This API process's copy of the seat claims, kept current by the claims' own feed.

What it is for: ``api/hold_refusals.py`` answers a ``startCheckout`` of seats another checkout
claims (most holds of an on-sale) from a dict, without graphql-core and without awaiting a
Redis reply, which on a busy event loop waits for the loop's next turn behind every other
request. Without the two, the flash sale's refusal p99 was 433-703 ms against 266-333 ms with
them (ABAB, ``docs/measurements.md``, 2026-12-06).

How the copy stays right:

* Every script that changes claims (``adapters/seat_claims.py``) publishes the change on one
  channel from inside the script, so the channel carries the changes in the order Redis made
  them, with absolute values: "these seats are now holder's until t", "these seats are free".
* One connection per process subscribes to it. An event's copy is loaded on first use: the
  event's messages are kept from before the snapshot (HGETALL) is asked for, and replayed on it
  once it arrives. Replaying changes the snapshot already holds is harmless, because each one
  sets or deletes a seat outright: every seat ends as the last change to it says.
* Pub/sub loses messages only with its connection. That connection never reconnects behind our
  back (no retries); any error drops every copy, and copies are loaded again once subscribed.
  A connection that dies without an error (a half-open TCP connection) is caught by a PING
  whenever the feed is quiet: with nothing heard for ``silence_seconds`` it is dropped the same
  way, so a copy is never more than that behind a feed that stopped.

What it costs: a release (a declined payment, a hold that went no further) reaches the copy
one feed delivery after Redis made it (a turn of this process's loop), and a hold of a seat
freed in that window is refused as if the seat were still held. It never lets a hold through
that Redis would refuse: a seat the copy shows free goes to the claim script, which decides.
Until an event's copy is loaded, and while the feed is down, ``taken`` answers None and the
hold goes to the claim script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from adapters.seat_claims import GRANT, claims_feed, claims_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedChange:
    event_id: str
    holder: str | None  # None: the seats were freed
    expires_at: int
    seat_ids: tuple[str, ...]


def parse_change(raw: bytes | str) -> FeedChange:
    """A feed message: "event|set|holder|expires_at|seats" or "event|drop|||seats"."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    event_id, op, holder, expires_at, seats = text.split("|")
    if op == "set":
        return FeedChange(event_id, holder, int(expires_at), tuple(seats.split(",")))
    if op == "drop":
        return FeedChange(event_id, None, 0, tuple(seats.split(",")))
    raise ValueError(f"unknown claims change {op!r}")


@dataclass
class EventClaims:
    """One event's claims: seat id -> (holder, expires_at), or still loading."""

    claims: dict[str, tuple[str, int]] | None = None  # None while the snapshot is on its way
    pending: list[FeedChange] = field(default_factory=list)

    def apply(self, change: FeedChange) -> None:
        if self.claims is None:
            self.pending.append(change)
        elif change.holder is None:
            for seat in change.seat_ids:
                self.claims.pop(seat, None)
        else:
            for seat in change.seat_ids:
                self.claims[seat] = (change.holder, change.expires_at)

    def loaded(self, snapshot: dict[bytes, bytes]) -> None:
        """The snapshot arrived: it, then every change seen since this copy was begun."""
        self.claims = {}
        for raw_field, value in snapshot.items():
            seat = raw_field.decode()
            if seat.startswith(GRANT):
                continue
            holder, _, expires_at = value.decode().rpartition("|")
            self.claims[seat] = (holder, int(expires_at))
        pending, self.pending = self.pending, []
        for change in pending:
            self.apply(change)

    def taken(self, seat_ids: Iterable[str], now: int) -> tuple[str, ...]:
        """Seats claimed live (the claim script's rule: an expiry at or after now), sorted."""
        assert self.claims is not None
        claims = self.claims
        return tuple(s for s in sorted(seat_ids) if s in claims and claims[s][1] >= now)


class ClaimsMirror:
    """Per-process copies of events' claims (at most ``max_events``, least recently used
    dropped). Starts its subscription on first use, from the running event loop."""

    def __init__(
        self,
        redis_url: str,
        snapshots: aredis.Redis,
        prefix: str,
        clock: Callable[[], float] = time.time,
        max_events: int = 64,
        retry_seconds: float = 1.0,
        silence_seconds: float = 15.0,
    ) -> None:
        # The feed's connection, as CLIENT LIST names it.
        self.connection_name = f"claims-mirror-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # A connection of its own that never retries: a reconnect would resubscribe silently
        # and lose the messages sent in between.
        self._feed_redis = aredis.Redis.from_url(
            redis_url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=0.5,
            socket_keepalive=True,
            client_name=self.connection_name,
        )
        self._snapshots = snapshots
        self._prefix = prefix
        self._clock = clock
        self._max_events = max_events
        self._retry_seconds = retry_seconds
        self._silence_seconds = silence_seconds
        self._events: OrderedDict[str, EventClaims] = OrderedDict()
        self._subscribed = False
        self._reader: asyncio.Task[None] | None = None
        self._loads: set[asyncio.Task[None]] = set()

    def taken(self, event_id: str, seat_ids: Sequence[str]) -> tuple[str, ...] | None:
        """The seats some checkout claims live, sorted; None when this process has no current
        copy of the event's claims (the claim script decides)."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._follow_feed())
        if not self._subscribed:
            return None
        copy = self._events.get(event_id)
        if copy is None:
            self._begin(event_id)
            return None
        if copy.claims is None:
            return None
        self._events.move_to_end(event_id)
        return copy.taken(seat_ids, int(self._clock()))

    def _begin(self, event_id: str) -> None:
        copy = EventClaims()
        self._events[event_id] = copy
        while len(self._events) > self._max_events:
            self._events.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._load(event_id, copy))
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(self, event_id: str, copy: EventClaims) -> None:
        # Asked only once ``copy`` is registered and the feed subscribed: every change made
        # after the snapshot is then in ``copy.pending`` or applied after it.
        try:
            snapshot = await self._snapshots.hgetall(claims_key(self._prefix, event_id))
        except RedisError as exc:
            log.warning("claims of %s not copied, holds go to the claim script: %s", event_id, exc)
            if self._events.get(event_id) is copy:
                del self._events[event_id]
            return
        copy.loaded(snapshot)

    async def _follow_feed(self) -> None:
        while True:
            pubsub = self._feed_redis.pubsub()
            loop = asyncio.get_running_loop()
            try:
                await pubsub.subscribe(claims_feed(self._prefix))
                heard = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=self._silence_seconds / 3)
                    if message is None:
                        if loop.time() - heard > self._silence_seconds:
                            raise ConnectionError("the claims feed went silent, not even a PONG")
                        await pubsub.ping()  # its PONG arrives as a message, as proof of life
                        continue
                    heard = loop.time()
                    if message["type"] == "subscribe":
                        self._subscribed = True
                    elif message["type"] == "message":
                        change = parse_change(message["data"])
                        copy = self._events.get(change.event_id)
                        if copy is not None:
                            copy.apply(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever broke the feed, forget the copies
                log.warning(
                    "claims feed lost, holds go to the claim script until it is back: %s", exc
                )
            finally:
                self._subscribed = False
                self._events.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(self._retry_seconds)

    async def close(self) -> None:
        tasks = [t for t in (self._reader, *self._loads) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._reader = None
        await self._feed_redis.aclose()
