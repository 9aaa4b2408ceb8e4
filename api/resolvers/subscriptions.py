"""Live updates: a checkout's progress and an event's seat-map changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ariadne import SubscriptionType
from graphql import GraphQLResolveInfo
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from adapters.checkout_client import CheckoutClient
from adapters.seatmap_cache import seatmap_channel
from api.context import ctx
from api.resolvers.common import event_or_404, owned_checkout, uuid_arg
from api.seat_map_feeds import SeatMapFeeds
from domain.checkout import TERMINAL
from domain.errors import DomainError
from workflows.contract import CheckoutState

log = logging.getLogger(__name__)

subscription = SubscriptionType()

POLL_SECONDS = 0.2


def _fingerprint(state: CheckoutState) -> tuple[Any, ...]:
    return (state.status, tuple(state.seat_ids), state.expires_at, state.extensions_used)


@subscription.source("checkoutProgress")
async def checkout_progress_source(
    _: Any, info: GraphQLResolveInfo, checkout_id: str
) -> AsyncIterator[CheckoutState]:
    """Polls the workflow's state query and yields each change, ending at a terminal state.

    Polling a query is what a workflow offers to outside readers; every API process can serve
    it, so it needs no fan-out of its own. Access is checked before the stream starts, so a
    refusal is an error result, not a broken stream.
    """
    context = ctx(info)
    checkout = uuid_arg(checkout_id, "checkoutId")
    state = await owned_checkout(context, checkout)
    client = await context.services.checkouts()
    return _progress(client, checkout, state)


async def _progress(
    client: CheckoutClient, checkout_id: str, state: CheckoutState
) -> AsyncIterator[CheckoutState]:
    last = _fingerprint(state)
    yield state
    while state.status not in TERMINAL:
        await asyncio.sleep(POLL_SECONDS)
        try:
            state = await client.state(checkout_id)
        except DomainError:
            return
        if _fingerprint(state) != last:
            last = _fingerprint(state)
            yield state


@subscription.field("checkoutProgress")
def resolve_checkout_progress(state: CheckoutState, *_: Any, **__: Any) -> CheckoutState:
    return state


@subscription.source("seatMapChanges")
async def seat_map_changes_source(
    _: Any, info: GraphQLResolveInfo, event_id: str
) -> AsyncIterator[dict[str, Any]]:
    """Messages published by ``RedisSeatMapEvents`` (any worker or API process), through
    this process's one subscription to the event's channel (``api/seat_map_feeds.py``)."""
    context = ctx(info)
    event = await event_or_404(context.services, uuid_arg(event_id, "eventId"))
    feeds = context.services.seat_map_feeds
    assert feeds is not None, "bootstrap.build_services wires the seat-map feeds"
    return await feeds.follow(event.id)


def seat_map_feeds(redis: Redis, prefix: str) -> SeatMapFeeds:
    """The process's shared subscriptions to events' seat-map channels (api/seat_map_feeds.py),
    each read by ``changes``."""

    async def subscribed(event_id: str) -> PubSub:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(seatmap_channel(prefix, event_id))
        except BaseException:  # failed or cancelled: its connection goes back now
            await pubsub.aclose()
            raise
        return pubsub

    return SeatMapFeeds(subscribed, changes, resync)


def resync(event_id: str) -> dict[str, Any]:
    """The change that tells a page to read its whole map again."""
    return {"event_id": event_id, "kind": RESYNC, "seat_ids": []}


# The change that tells a subscriber it missed some: its map must be read again.
RESYNC = "resync"
RESUBSCRIBE_SECONDS = 1.0


async def changes(
    subscribed: Callable[[], Awaitable[PubSub]], pubsub: PubSub | None, event_id: str
) -> AsyncIterator[dict[str, Any]]:
    """The channel's changes, for as long as the subscriber stays. When Redis drops the
    subscription (an outage, a restart) it is taken again once Redis answers, and a RESYNC
    change is sent: what was published meanwhile was not heard, so the page reads its map
    again (it does for any kind it does not know) instead of going quietly stale."""
    try:
        while True:
            try:
                if pubsub is None:
                    pubsub = await subscribed()
                    yield resync(event_id)
                # Not listen(): it blocks on one read, which the client's socket timeout
                # (short, so that a frozen Redis fails a call fast) would end on a quiet map.
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError as exc:
                log.warning("seat map feed of %s lost, subscribing again: %s", event_id, exc)
                if pubsub is not None:
                    await _close(pubsub)
                pubsub = None
                await asyncio.sleep(RESUBSCRIBE_SECONDS)
                continue
            if message is None or message.get("type") != "message":
                continue
            data = json.loads(message["data"])
            yield {"event_id": data["eventId"], "kind": data["kind"], "seat_ids": data["seatIds"]}
    finally:
        if pubsub is not None:
            await _close(pubsub)


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError):
        await pubsub.unsubscribe()
    await pubsub.aclose()


@subscription.field("seatMapChanges")
def resolve_seat_map_changes(change: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
    return change


BINDABLES = [subscription]
