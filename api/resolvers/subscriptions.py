"""Live updates: a checkout's progress and an event's seat-map changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from ariadne import SubscriptionType
from graphql import GraphQLResolveInfo
from redis.asyncio.client import PubSub

from adapters.checkout_client import CheckoutClient
from adapters.seatmap_cache import seatmap_channel
from api.context import ctx
from api.resolvers.common import event_or_404, owned_checkout, uuid_arg
from domain.checkout import TERMINAL
from domain.errors import DomainError
from workflows.contract import CheckoutState

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
    """Messages published by ``RedisSeatMapEvents`` (any worker or API process)."""
    context = ctx(info)
    event = await event_or_404(context.services, uuid_arg(event_id, "eventId"))
    pubsub = context.services.aredis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(seatmap_channel(context.services.settings.redis_prefix, event.id))
    return _changes(pubsub)


async def _changes(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    try:
        while True:
            # Not listen(): it blocks on one read, which the client's socket timeout (short,
            # so that a frozen Redis fails a call fast) would end while the map is quiet.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            data = json.loads(message["data"])
            yield {"event_id": data["eventId"], "kind": data["kind"], "seat_ids": data["seatIds"]}
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()


@subscription.field("seatMapChanges")
def resolve_seat_map_changes(change: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
    return change


BINDABLES = [subscription]
