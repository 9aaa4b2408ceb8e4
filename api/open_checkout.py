"""One open checkout per buyer per event: the rule ``startCheckout`` applies before the saga.

The buyer's open checkout is the pointer in Redis (``adapters/open_checkouts.py``), shared with
``lockSeat``, which adds seats to it instead of opening another. ``startCheckout`` records its
new checkout there (set only if absent) right before it starts the workflow; finding another
one, it asks Temporal whether that one is still open (only then: a buyer without a pointer
pays one Redis call) and either refuses or takes its place by a compare-and-set.

With every hold of a buyer going to one workflow, whose holds run one at a time, the hold
step's count of held + booked seats is exact, so the per-buyer ticket limit holds even under
concurrent holds of one buyer.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adapters.open_checkouts import Pointer, now_ms
from api.context import Context
from api.services import run_sync
from domain.checkout import CheckoutStatus, is_terminal
from domain.errors import DomainError, ErrorCode
from workflows.contract import SA_STATUS, workflow_id

log = logging.getLogger(__name__)

# A pointer whose workflow does not exist yet is being started while younger than this (the
# start's own retries last about 6 s); older, its start never happened (the API died between
# the pointer and the start, or the start failed) and it is replaced.
OPENING_GRACE_MS = 60_000


def already_open(checkout_id: str) -> DomainError:
    return DomainError(
        ErrorCode.CHECKOUT_ALREADY_OPEN,
        f"you already have an open checkout for this event: {checkout_id}; add seats to it "
        "(holdSeats), pay it or cancel it first",
        checkout_id=checkout_id,
    )


async def claim_open_checkout(
    context: Context, user_id: str, event_id: str, checkout_id: str
) -> None:
    """Records ``checkout_id`` as the buyer's open checkout of the event.

    Raises:
        DomainError: CHECKOUT_ALREADY_OPEN naming the buyer's open checkout.
    """
    pointers = context.services.open_checkouts
    try:
        pointer = await run_sync(pointers.open_pointer, user_id, event_id, checkout_id)
    except RedisError as exc:
        # Fails open, like the seat claims: with Redis away sales go on at DynamoDB, and the
        # hold step still applies the ticket limit to this checkout's seats and the bookings.
        log.warning("open checkouts unavailable, not enforcing one per buyer: %s", exc)
        return
    for _ in range(3):
        if pointer.checkout_id == checkout_id:
            return
        if await _still_open(await context.services.temporal.client(), pointer):
            raise already_open(pointer.checkout_id)
        pointer = await run_sync(
            pointers.replace_pointer, user_id, event_id, pointer.checkout_id, checkout_id
        )
    raise already_open(pointer.checkout_id)


async def _still_open(client: Client, pointer: Pointer) -> bool:
    """Whether the checkout has not ended (CONFIRMED, FAILED, EXPIRED, CANCELLED)."""
    handle = client.get_workflow_handle(workflow_id(pointer.checkout_id))
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return pointer.age_ms(now_ms()) < OPENING_GRACE_MS
    if described.status != WorkflowExecutionStatus.RUNNING:
        return False
    # A checkout that reached its terminal status is done even while its run winds down.
    status = described.typed_search_attributes.get(SA_STATUS)
    return status is None or not is_terminal(CheckoutStatus(status))


async def forget_open_checkout(
    context: Context, user_id: str, event_id: str, checkout_id: str
) -> None:
    """Drops the pointer if it still names ``checkout_id`` (a checkout that holds nothing)."""
    try:
        await run_sync(context.services.open_checkouts.forget, user_id, event_id, checkout_id)
    except RedisError as exc:  # the pointer lapses with its TTL, or is replaced once closed
        log.warning("open checkout pointer not dropped: %s", exc)
