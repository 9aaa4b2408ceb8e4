"""Helpers shared by resolvers: argument parsing, ownership, payloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.catalog import EventInfo
from api.context import Context
from api.errors import bad_input, forbidden, from_domain, not_found
from api.services import Services, run_sync
from domain.errors import DomainError, ErrorCode
from domain.validation import parse_uuid, validate_seat_selection
from workflows.contract import CheckoutState


def uuid_arg(value: Any, field: str) -> str:
    try:
        return parse_uuid(value, field)
    except DomainError as exc:
        raise bad_input(exc.message, field=field) from None


def seats_arg(values: Sequence[Any], max_seats: int) -> list[str]:
    try:
        return list(validate_seat_selection(values, max_seats=max_seats))
    except DomainError as exc:
        raise from_domain(exc) from None


def acting_user(context: Context, user_id_arg: Any | None = None) -> str:
    """The authenticated user; a ``userId`` argument must name that same user."""
    identity = context.require_user()
    if user_id_arg is not None:
        claimed = uuid_arg(user_id_arg, "userId")
        if claimed != identity.user_id:
            raise forbidden("userId must be the authenticated user")
    return identity.user_id


async def event_payload(services: Services, event_id: str) -> dict[str, Any]:
    """An organizer operation's success: the event as it is now."""
    event = await run_sync(services.catalog.get_event, event_id)
    return {"success": True, "event": event}


async def event_or_404(services: Services, event_id: str) -> EventInfo:
    event = await run_sync(services.catalog.get_event, event_id)
    if event is None:
        raise not_found("event")
    return event


async def owned_checkout(context: Context, checkout_id: str) -> CheckoutState:
    """The caller's checkout; someone else's is indistinguishable from an unknown one."""
    user_id = context.require_user().user_id
    client = await context.services.checkouts()
    try:
        state = await client.state(checkout_id)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise not_found("checkout") from None
        raise
    if state.user_id != user_id:
        raise not_found("checkout")
    return state


def failure(error: DomainError, **extra: Any) -> dict[str, Any]:
    payload = {"success": False, "message": error.message, "failure_reason": error.code.value}
    if error.code == ErrorCode.CHECKOUT_ALREADY_OPEN:
        # Clients continue in that checkout: named as data, not only inside the message.
        payload["open_checkout_id"] = error.details.get("checkout_id")
    return {**payload, **extra}
