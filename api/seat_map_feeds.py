"""One Redis subscription per event and API process, shared by every page following its map.

Each page's ``seatMapChanges`` held a pub/sub connection of its own: ten thousand pages of one
on-sale held ten thousand Redis connections (Redis refuses clients past ``maxclients``, 10,000 by
default) and Redis sent every change ten thousand times. Now a process subscribes to an event's
channel once, while any of its pages follows the event, and hands each change to every page.
The feed is the stream ``api.resolvers.subscriptions.changes`` reads, so a subscription Redis
drops is taken again and its pages told to read their maps again (a RESYNC change).

A page that is behind is sent fewer pushes than there are changes: the changes waiting for it
when it reads are sent as one push per kind (``merged``), so a process busy with a sale sends
each of its pages a few pushes of many seats rather than falling further behind one change at a
time; a page that keeps up is sent each change as it comes. A page that falls behind all the
same (its socket slower than the sale) loses its backlog for one RESYNC: it reads its map
again, as after an outage, rather than holding the process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

Change = dict[str, Any]
Stream = Callable[[Callable[[], Awaitable[PubSub]], PubSub, str], AsyncIterator[Change]]

BACKLOG = 256  # changes a page may be behind before it is told to read its map again
# The kinds a page applies seat by seat (what the event page knows): anything else (a resync,
# an event's status) is sent on its own, with no change moved across it.
SEAT_KINDS = frozenset(
    {"held", "released", "booked", "cancelled", "refunded", "blocked", "unblocked"}
)


def merged(changes: list[Change]) -> list[Change]:
    """``changes`` as fewer changes, one per kind where the seats allow: a change joins the
    latest one of its kind when no change between them names any of its seats (changes of
    other seats may go in either order; one seat's go in the order published), so a page
    reads every seat as it was left."""
    out: list[Change] = []
    seats_of: list[set[str]] = []  # the seats each change in ``out`` names
    for change in changes:
        ids = change["seat_ids"]
        target = None
        if change["kind"] in SEAT_KINDS:
            for i in range(len(out) - 1, -1, -1):
                if out[i]["kind"] not in SEAT_KINDS:
                    break
                if out[i]["kind"] == change["kind"]:
                    target = i
                    break
                if not seats_of[i].isdisjoint(ids):
                    break
        if target is None:
            out.append({**change, "seat_ids": list(ids)})
            seats_of.append(set(ids))
        else:
            out[target]["seat_ids"].extend(ids)
            seats_of[target].update(ids)
    return out


@dataclass
class _Feed:
    subscribed: asyncio.Future[None]  # done once the channel is subscribed (or failed to be)
    pages: set[asyncio.Queue[Change | None]] = field(default_factory=set)  # None: it stopped
    waiting: int = 0  # pages waiting in follow for the subscription
    task: asyncio.Task[None] | None = None


class _Page:
    """One page's changes. It leaves the feed when closed, read or not, and when nothing holds
    it any more: graphql-core maps it through an async generator, and a generator closed
    before its first step (the client completed the operation at once) runs none of its
    code, so it never closes the page, only drops it; the feed would go on for nobody."""

    def __init__(self, queue: asyncio.Queue[Change | None], leave: Callable[[], None]) -> None:
        self.queue = queue
        # ``leave`` must not hold the page, or the page would never be dropped.
        self._leave = weakref.finalize(self, leave)
        self._leave.atexit = False  # nothing to leave once the process ends
        self._ready: list[Change] = []  # taken from the queue, merged, not sent yet
        self._stopped = False  # the feed stopped after what is ready

    def __aiter__(self) -> _Page:
        return self

    async def __anext__(self) -> Change:
        if not self._leave.alive:
            raise StopAsyncIteration
        if not self._ready and not self._stopped:
            try:
                self._take(await self.queue.get())
            except BaseException:  # cancelled while waiting (the page went away)
                await self.aclose()
                raise
        while not self._stopped and not self.queue.empty():
            self._take(self.queue.get_nowait())
        self._ready = merged(self._ready)
        if not self._ready:
            await self.aclose()
            raise RuntimeError("the seat map's feed stopped: subscribe again")
        return self._ready.pop(0)

    def _take(self, change: Change | None) -> None:
        if change is None:
            self._stopped = True
        else:
            self._ready.append(change)

    async def aclose(self) -> None:
        self._leave()  # once: a finalizer runs at most once


class SeatMapFeeds:
    def __init__(
        self,
        subscribe: Callable[[str], Awaitable[PubSub]],
        stream: Stream,
        resync: Callable[[str], Change],
    ) -> None:
        self._subscribe = subscribe  # an event's id -> a pub/sub subscribed to its channel
        self._stream = stream
        self._resync = resync
        self._feeds: dict[str, _Feed] = {}

    async def follow(self, event_id: str) -> AsyncIterator[Change]:
        """The event's changes for one page. Subscribed when it returns, so a change published
        after is heard; a failure to subscribe is raised here, before the stream starts."""
        feed = self._feeds.get(event_id)
        if feed is None:
            feed = self._feeds[event_id] = _Feed(asyncio.get_running_loop().create_future())
            feed.task = asyncio.create_task(
                self._relay(event_id, feed), name=f"seat-map-feed-{event_id}"
            )
        feed.waiting += 1
        try:
            await asyncio.shield(feed.subscribed)
        finally:
            feed.waiting -= 1
            if not feed.pages and not feed.waiting and not feed.subscribed.done():
                self._end(event_id, feed)  # every page waiting for it went away
        if self._feeds.get(event_id) is not feed:  # it broke before this page was in it
            raise RuntimeError("the seat map's feed stopped: subscribe again")
        queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=BACKLOG)
        feed.pages.add(queue)
        return _Page(queue, lambda: self._leave(event_id, feed, queue))

    def _leave(self, event_id: str, feed: _Feed, queue: asyncio.Queue[Change | None]) -> None:
        feed.pages.discard(queue)
        if not feed.pages and not feed.waiting:
            self._end(event_id, feed)  # the last page left: so does the subscription

    def _end(self, event_id: str, feed: _Feed) -> None:
        if self._feeds.get(event_id) is feed:
            del self._feeds[event_id]
        if feed.task is not None:
            feed.task.cancel()

    async def _relay(self, event_id: str, feed: _Feed) -> None:
        """Subscribes (the pages waiting in ``follow`` are told how it went), then hands each
        change to every page until cancelled. The subscription is made here, in the task that
        closes it: a task cancelled before it ran holds no connection."""
        try:
            pubsub = await self._subscribe(event_id)
        except Exception as exc:
            if self._feeds.get(event_id) is feed:
                del self._feeds[event_id]
            feed.subscribed.set_exception(exc)  # the pages waiting on it raise it
            feed.subscribed.exception()  # and none waiting is no warning
            return
        feed.subscribed.set_result(None)
        stream = self._stream(lambda: self._subscribe(event_id), pubsub, event_id)
        try:
            async with contextlib.aclosing(stream):
                async for change in stream:
                    for page in list(feed.pages):
                        self._offer(page, change)
        except Exception:  # a bug, not an outage (the stream rides those out): the pages end
            log.exception("seat map feed of %s stopped", event_id)
            if self._feeds.get(event_id) is feed:
                del self._feeds[event_id]  # the next page subscribes anew
            for page in list(feed.pages):
                self._offer(page, None)

    def _offer(self, page: asyncio.Queue[Change | None], change: Change | None) -> None:
        """Queues ``change`` for the page; a page that is full loses its backlog for a
        resync (or for the end, None)."""
        try:
            page.put_nowait(change)
        except asyncio.QueueFull:
            while not page.empty():
                page.get_nowait()
            page.put_nowait(change if change is None else self._resync(change["event_id"]))

    def following(self) -> dict[str, int]:
        """Pages following each event here (for tests and operators)."""
        return {event_id: len(feed.pages) for event_id, feed in self._feeds.items()}

    async def aclose(self) -> None:
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        self._feeds.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
