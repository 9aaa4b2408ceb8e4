"""Pages following one event's seat map share one subscription to its channel in a process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from graphql import map_async_iterable
from redis.exceptions import ConnectionError as RedisConnectionError

from api import seat_map_feeds
from api.resolvers.subscriptions import RESYNC, resync
from api.seat_map_feeds import SeatMapFeeds

EVENT = "e1"


class Channel:
    """An event's channel as the feed's stream sees it: each change put here is heard."""

    def __init__(self) -> None:
        self.subscriptions = 0
        self.live = 0  # subscriptions not yet closed
        self.changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def subscribe(self, event_id: str) -> Any:
        self.subscriptions += 1
        self.live += 1
        return self

    async def stream(
        self, subscribed: Callable[[], Awaitable[Any]], pubsub: Any, event_id: str
    ) -> AsyncIterator[dict[str, Any]]:
        try:
            while True:
                yield await self.changes.get()
        finally:
            self.live -= 1

    def publish(self, kind: str) -> None:
        self.changes.put_nowait({"event_id": EVENT, "kind": kind, "seat_ids": ["s1"]})


async def next_of(page: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(page), 5)


async def test_pages_of_one_event_share_one_subscription_until_the_last_leaves() -> None:
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)

    first, second = await feeds.follow(EVENT), await feeds.follow(EVENT)
    channel.publish("held")

    assert (await next_of(first))["kind"] == (await next_of(second))["kind"] == "held"
    assert channel.subscriptions == 1 and feeds.following() == {EVENT: 2}

    await first.aclose()  # type: ignore[attr-defined]
    channel.publish("released")
    assert (await next_of(second))["kind"] == "released"
    await second.aclose()  # type: ignore[attr-defined]
    for _ in range(100):
        if channel.live == 0:
            break
        await asyncio.sleep(0.01)
    assert feeds.following() == {} and channel.live == 0  # the subscription went with them

    again = await feeds.follow(EVENT)  # a new page subscribes anew
    assert channel.subscriptions == 2
    await again.aclose()  # type: ignore[attr-defined]
    await feeds.aclose()


async def test_a_page_that_falls_behind_is_told_to_read_its_map_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seat_map_feeds, "BACKLOG", 3)
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)
    slow = await feeds.follow(EVENT)
    for kind in ("held", "held", "held", "booked"):
        channel.publish(kind)
    while not channel.changes.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)

    assert (await next_of(slow))["kind"] == RESYNC  # its backlog is gone: it reads its map
    channel.publish("released")
    assert (await next_of(slow))["kind"] == "released"
    await slow.aclose()  # type: ignore[attr-defined]
    await feeds.aclose()


async def test_a_failure_to_subscribe_is_the_page_s_error_and_leaves_no_feed() -> None:
    async def down(event_id: str) -> Any:
        raise RedisConnectionError("Redis is down")

    feeds = SeatMapFeeds(down, Channel().stream, resync)

    with pytest.raises(RedisConnectionError):
        await feeds.follow(EVENT)
    assert feeds.following() == {}


async def test_a_feed_that_breaks_ends_its_pages_and_the_next_page_subscribes_anew() -> None:
    channel = Channel()
    followed = asyncio.Event()

    async def breaks(*_: Any) -> AsyncIterator[dict[str, Any]]:
        await followed.wait()  # the change comes once the page follows
        yield {"event_id": EVENT, "kind": "held", "seat_ids": ["s1"]}
        raise ValueError("a message that is not JSON")

    feeds = SeatMapFeeds(channel.subscribe, breaks, resync)
    page = await feeds.follow(EVENT)
    followed.set()

    assert (await next_of(page))["kind"] == "held"
    with pytest.raises(RuntimeError):
        await next_of(page)  # the page's stream ends: it subscribes again
    assert feeds.following() == {}
    followed.clear()
    await (await feeds.follow(EVENT)).aclose()  # type: ignore[attr-defined]
    assert channel.subscriptions == 2
    await feeds.aclose()


async def test_a_page_closed_before_it_read_anything_leaves_the_feed() -> None:
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)
    page = await feeds.follow(EVENT)

    await page.aclose()  # type: ignore[attr-defined] - the socket went away at once

    assert feeds.following() == {}
    for _ in range(100):
        if channel.live == 0:
            break
        await asyncio.sleep(0.01)
    assert channel.live == 0  # nobody follows: the subscription ended with the page


async def test_a_page_whose_stream_is_closed_before_its_first_read_leaves_the_feed() -> None:
    """graphql-core maps the page through an async generator, and the socket's handler closes
    that when the client completes the operation: closed before its first step, a generator
    runs none of its code, so the page it wraps is never closed, only dropped."""
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)

    async def as_result(change: Any) -> Any:
        return change

    stream = map_async_iterable(await feeds.follow(EVENT), as_result)
    await stream.aclose()  # the client's "complete" came before the stream was first read
    del stream

    assert feeds.following() == {}
    await feeds.aclose()


async def test_a_page_whose_read_is_cancelled_leaves_the_feed() -> None:
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)
    page = await feeds.follow(EVENT)
    reading = asyncio.create_task(next_of(page))
    await asyncio.sleep(0.01)

    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)

    assert feeds.following() == {}
    await feeds.aclose()


async def test_a_page_that_leaves_while_the_channel_is_being_subscribed_ends_the_feed() -> None:
    subscribing, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(event_id: str) -> Any:
        subscribing.set()
        try:
            await asyncio.Event().wait()  # Redis is slow to answer
        except asyncio.CancelledError:
            cancelled.set()
            raise

    feeds = SeatMapFeeds(slow, Channel().stream, resync)
    following = asyncio.create_task(feeds.follow(EVENT))
    await subscribing.wait()

    following.cancel()
    await asyncio.gather(following, return_exceptions=True)

    assert feeds.following() == {}
    await asyncio.wait_for(cancelled.wait(), 5)  # the subscription under way was given up


def change(kind: str, *seats: str) -> dict[str, Any]:
    return {"event_id": EVENT, "kind": kind, "seat_ids": list(seats)}


def kinds_and_seats(changes: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [(c["kind"], c["seat_ids"]) for c in changes]


def test_changes_of_other_seats_merge_by_kind_and_one_seats_keep_their_order() -> None:
    # two checkouts, each held, booked, its locks released: one push per kind
    sale = [change(k, s) for s in ("a", "b") for k in ("held", "booked", "released")]
    assert kinds_and_seats(seat_map_feeds.merged(sale)) == [
        ("held", ["a", "b"]),
        ("booked", ["a", "b"]),
        ("released", ["a", "b"]),
    ]
    # a seat held again after its release is not moved before the release
    again = [change("held", "a"), change("released", "a"), change("held", "a", "c")]
    assert kinds_and_seats(seat_map_feeds.merged(again)) == kinds_and_seats(again)
    # nothing moves across a change that is not a seat's (a resync, the event's status)
    barrier = [change("held", "a"), change(RESYNC), change("held", "b")]
    assert kinds_and_seats(seat_map_feeds.merged(barrier)) == kinds_and_seats(barrier)
    status = [change("held", "a"), change("status:PAUSED"), change("held", "b")]
    assert kinds_and_seats(seat_map_feeds.merged(status)) == kinds_and_seats(status)
    # what was published is left as it was (every page of the feed shares it)
    assert sale[0]["seat_ids"] == ["a"]


async def test_a_page_behind_the_sale_is_sent_what_waits_for_it_in_fewer_pushes() -> None:
    channel = Channel()
    feeds = SeatMapFeeds(channel.subscribe, channel.stream, resync)
    page = await feeds.follow(EVENT)
    for seat in ("a", "b", "c"):
        for kind in ("held", "booked"):
            channel.changes.put_nowait(change(kind, seat))
    while not channel.changes.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)

    pushes = [await next_of(page), await next_of(page)]
    assert kinds_and_seats(pushes) == [("held", ["a", "b", "c"]), ("booked", ["a", "b", "c"])]
    channel.changes.put_nowait(change("released", "a"))  # one that keeps up: as it comes
    assert kinds_and_seats([await next_of(page)]) == [("released", ["a"])]
    await page.aclose()  # type: ignore[attr-defined]
    await feeds.aclose()
