"""The checkout operations on the saga: pay, extend, cancel, read (holds: ``api/hold.py``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from adapters.payments import check_card_token
from api.context import Context, ctx
from api.errors import bad_input, not_found
from api.metrics import CHECKOUTS
from api.resolvers.common import failure, owned_checkout, uuid_arg
from domain.checkout import TERMINAL, CheckoutStatus
from domain.errors import DomainError, ErrorCode
from domain.validation import validate_payment_token
from workflows.contract import CheckoutState, HoldSeatsResult

query = QueryType()
mutation = MutationType()
checkout_type = ObjectType("Checkout")
checkout_type.set_alias("id", "checkout_id")


def count_outcome(state: CheckoutState) -> None:
    if state.status in TERMINAL:
        CHECKOUTS.labels(state.status).inc()


def checked_token(context: Context, token: str | None) -> str | None:
    """The token to pay with; bad input (malformed, or a card the processor does not know)
    is refused here, before the saga would fail the checkout on it."""
    try:
        checked = validate_payment_token(token) or context.services.default_payment_token
        if context.services.settings.payment_processor == "sandbox":
            check_card_token(checked)
    except DomainError as exc:
        raise bad_input(exc.message, field="paymentToken") from None
    return checked


class LazyCheckout:
    """A checkout whose id is known and whose state is queried only if a client asks for it.

    graphql-core calls a callable attribute, so every field but ``id`` becomes one shared
    workflow query: the flash-sale buyer selects ``checkout { id }`` after a hold, and that
    no longer costs a round trip to Temporal.
    """

    def __init__(self, checkout_id: str, load: Callable[[], Awaitable[CheckoutState]]) -> None:
        self.checkout_id = checkout_id
        self._load = load
        self._state: asyncio.Future[CheckoutState] | None = None

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def resolve(*_: Any, **__: Any) -> Any:
            if self._state is None:
                self._state = asyncio.ensure_future(self._load())
            return getattr(await self._state, name)

        return resolve


def _lazy_state(context: Context, checkout_id: str) -> LazyCheckout:
    async def load() -> CheckoutState:
        return await (await context.services.checkouts()).state(checkout_id)

    return LazyCheckout(checkout_id, load)


def hold_payload(context: Context, checkout_id: str, result: HoldSeatsResult) -> dict[str, Any]:
    message = result.message or ("seats held" if result.held else "seats not held")
    if result.taken:
        message = f"seat(s) already taken: {', '.join(result.taken)}"
    return {
        "success": result.held,
        "checkout": _lazy_state(context, checkout_id),
        "taken_seat_ids": result.taken,
        "message": message,
        "failure_reason": None if result.held else result.failure_reason,
    }


def state_payload(state: CheckoutState, success: bool, message: str = "") -> dict[str, Any]:
    return {
        "success": success,
        "checkout": state,
        "taken_seat_ids": [],
        "message": message or state.failure_message or state.status,
        "failure_reason": None if success else state.failure_reason,
    }


@query.field("checkout")
async def resolve_checkout(_: Any, info: GraphQLResolveInfo, id: str) -> CheckoutState:
    return await owned_checkout(ctx(info), uuid_arg(id, "id"))


@mutation.field("submitPayment")
async def resolve_submit_payment(
    _: Any, info: GraphQLResolveInfo, checkout_id: str, payment_token: str | None = None
) -> dict[str, Any]:
    context = ctx(info)
    user_id = context.require_user().user_id
    checkout = uuid_arg(checkout_id, "checkoutId")
    token = checked_token(context, payment_token)
    submitted_ms = int(time.time() * 1000)  # the waiting room counts payments by it
    # Ownership is checked by the workflow's update validator, not by a query first: a
    # query would cost every payment one more Temporal round trip.
    client = await context.services.checkouts()
    try:
        final = await client.submit_payment(checkout, token, user_id=user_id)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise not_found("checkout") from None
        # TRY_AGAIN: a backend the payment's steps need is down, and the checkout's workflow
        # is busy with the step that waits on it; a read of its state would wait as long
        # (a query waits for the task), so the answer goes without it.
        state = None if exc.code == ErrorCode.TRY_AGAIN else _lazy_state(context, checkout)
        return failure(exc, checkout=state, taken_seat_ids=[])
    count_outcome(final)
    confirmed = final.status == CheckoutStatus.CONFIRMED.value
    room = context.services.waiting_room
    if room is not None and final.status in TERMINAL:
        await room.payment_answered(final.event_id, len(final.seat_ids), confirmed, submitted_ms)
    return state_payload(final, confirmed)


@mutation.field("extendHold")
async def resolve_extend_hold(_: Any, info: GraphQLResolveInfo, checkout_id: str) -> Any:
    context = ctx(info)
    checkout = uuid_arg(checkout_id, "checkoutId")
    state = await owned_checkout(context, checkout)
    try:
        extended = await (await context.services.checkouts()).extend(checkout)
    except DomainError as exc:
        return failure(exc, checkout=state, taken_seat_ids=[])
    return state_payload(extended, True, "hold extended")


@mutation.field("cancelCheckout")
async def resolve_cancel_checkout(_: Any, info: GraphQLResolveInfo, checkout_id: str) -> Any:
    context = ctx(info)
    checkout = uuid_arg(checkout_id, "checkoutId")
    state = await owned_checkout(context, checkout)
    try:
        cancelled = await (await context.services.checkouts()).cancel(checkout)
    except DomainError as exc:
        return failure(exc, checkout=state, taken_seat_ids=[])
    count_outcome(cancelled)
    return state_payload(cancelled, True, "checkout cancelled")


BINDABLES = [query, mutation, checkout_type]
