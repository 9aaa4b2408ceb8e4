"""The hold: ``startCheckout``, ``holdSeats`` and ``lockSeat``, and the one path they share.

A hold, from the resolver to the DynamoDB write (``docs/architecture.md`` draws it):

1. The resolver validates its input (ids, at most ``MAX_SEATS_PER_CHECKOUT`` seats).
2. ``hold`` claims the seats in Redis (``adapters/seat_claims.py``, one Lua call). Seats that
   another checkout claims are refused right here, without PostgreSQL, DynamoDB or Temporal:
   in an on-sale that is most holds. Over HTTP, most ``startCheckout`` refusals are answered
   before this, without graphql-core, from this process's copy of the claims
   (``api/hold_refusals.py``).
3. It waits for a slot at the saga (``api/admission.py``), then asks the checkout workflow to
   hold the seats: update-with-start for a new checkout, an update for an open one
   (``adapters/checkout_client.py``). A new checkout is first recorded as the buyer's open
   one for the event; a buyer who has one gets CHECKOUT_ALREADY_OPEN (``api/open_checkout.py``).
4. The workflow's hold step (``workflows/checkout.py::hold_seats`` → ``activities/checkout.py::
   hold_seats``, a local activity) prices the seats with the catalog's quote, the one business
   check (on sale, not booked or blocked, within the buyer's ticket limit), and takes their
   DynamoDB locks all-or-nothing (``adapters/seat_locks.py``); the grant is recorded over the
   claims. The update answers held or refused.
5. When the seats were not held, ``hold`` drops the claims it took.

A hold needing a backend that is down (``api/backend_watch.py``: Temporal, DynamoDB,
PostgreSQL) is answered TRY_AGAIN before step 2, claiming nothing; one waiting in steps 3-4
when such a backend goes down is cancelled then and answered the same, its claims dropped
and a new checkout cancelled in the background (``adapters/checkout_client.py``). Slow is
not down: a hold waits as long as the line and a busy Temporal take.

While the event's waiting room is on, each of the three first checks the caller's admission
(``admitted``): a signature, no I/O but this process's copy of the event's switch, at most a
second old. A hold without a live admission is refused NOT_ADMITTED before anything is
claimed; a hold that succeeds marks the buyer's turn used (it is not lost at its deadline).

The API writes nothing to DynamoDB: the saga owns the locks, DynamoDB decides every race, and
PostgreSQL's booking transaction is the final guard. Claims are only a fast filter in front.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ariadne import MutationType
from graphql import GraphQLResolveInfo

from api.backend_watch import HOLD
from api.context import Context, ctx
from api.errors import NOT_FOUND as NOT_FOUND_ERROR
from api.errors import ApiError
from api.metrics import HOLD_STEP, LOCK_ACQUISITIONS, SEAT_CLAIMS, labelled
from api.open_checkout import claim_open_checkout, forget_open_checkout
from api.resolvers.checkouts import hold_payload
from api.resolvers.common import acting_user, failure, owned_checkout, seats_arg, uuid_arg
from api.resolvers.scalars import iso_from_epoch
from api.services import run_sync
from domain.errors import DomainError, ErrorCode
from workflows.contract import HoldSeatsResult

mutation = MutationType()

# The saga's part of a hold: starts or wakes the checkout's workflow and waits for its answer.
AskSaga = Callable[[], Awaitable[HoldSeatsResult]]

# Refusals of the hold step that answer a hold as they did before the saga was asked (a payload
# failure without a checkout), rather than as a checkout's own refusal.
_SELECTION_REFUSALS = frozenset(
    {ErrorCode.SEATS_UNAVAILABLE, ErrorCode.EVENT_NOT_ON_SALE, ErrorCode.TICKET_LIMIT_REACHED}
)


async def admitted(context: Context, user_id: str, event_id: str, admission: Any) -> bool:
    """Whether the event's waiting room is on (and then ``admission`` is the caller's live
    admission to it); raises DomainError NOT_ADMITTED when the room is on and it is not."""
    room = context.services.waiting_room
    return room is not None and await room.require_admission(user_id, event_id, admission)


async def turn_used(
    context: Context, room_on: bool, user_id: str, event_id: str, seats: int
) -> None:
    if room_on and context.services.waiting_room is not None:
        await context.services.waiting_room.turn_used(user_id, event_id, seats)


def claimed_by_others(taken: Sequence[str]) -> DomainError:
    """The refusal of seats other checkouts claim. It says "another checkout", not "another
    buyer": it may be the caller's own earlier one."""
    return DomainError(
        ErrorCode.SEATS_UNAVAILABLE,
        f"seat(s) held by another checkout: {', '.join(taken)}",
        seat_ids=list(taken),
    )


async def hold(
    context: Context, checkout_id: str, event_id: str, seat_ids: list[str], ask_saga: AskSaga
) -> HoldSeatsResult:
    """Claims the seats, then lets the saga hold them (the module doc's steps 2-5).

    Raises DomainError (a payload failure: seats taken or booked, event not on sale, the saga
    busy) or a NOT_FOUND error (an event or seat that does not exist).
    """
    services = context.services
    services.backends.require(HOLD)  # before anything is claimed
    claims = services.claims
    claim = await claims.claim(event_id, seat_ids, checkout_id, services.settings.hold_seconds)
    labelled(SEAT_CLAIMS, "claimed" if claim.claimed else "refused").inc()
    if not claim.claimed:
        raise claimed_by_others(claim.taken)

    async def admitted_to_saga() -> HoldSeatsResult:
        async with services.hold_admission.slot():
            with HOLD_STEP.labels("saga").time():
                return await ask_saga()

    try:
        # The line and the saga's answer, for as long as they take while the backends
        # answer; cancelled (TRY_AGAIN) as soon as one the hold needs goes down.
        result = await services.backends.guard(HOLD, admitted_to_saga())
    except BaseException:
        # Also after an unexpected error: a dropped claim only sends the next buyer of these
        # seats to DynamoDB, which refuses them if the saga holds them after all.
        await claims.unclaim(event_id, claim.fresh, checkout_id)
        raise
    if result.held:
        return result
    await claims.unclaim(event_id, claim.fresh, checkout_id)
    code = result.failure_reason
    if code == ErrorCode.NOT_FOUND:
        raise ApiError(NOT_FOUND_ERROR, result.message or "not found")
    if code in _SELECTION_REFUSALS:  # seats locked by another checkout or booked; not on sale
        raise DomainError(ErrorCode(code), result.message, seat_ids=list(result.taken))
    return result


def _count(result: HoldSeatsResult) -> None:
    labelled(LOCK_ACQUISITIONS, "acquired" if result.held else "refused").inc()


def _refused(exc: DomainError, **extra: Any) -> dict[str, Any]:
    labelled(LOCK_ACQUISITIONS, "refused").inc()
    return failure(exc, taken_seat_ids=exc.details.get("seat_ids", []), **extra)


@mutation.field("startCheckout")
async def resolve_start_checkout(
    _: Any,
    info: GraphQLResolveInfo,
    event_id: str,
    seat_ids: list[str],
    admission: str | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    user_id = context.require_user().user_id
    event = uuid_arg(event_id, "eventId")
    seats = seats_arg(seat_ids, context.services.settings.max_seats_per_checkout)
    try:
        room_on = await admitted(context, user_id, event, admission)
    except DomainError as exc:
        return _refused(exc, checkout=None)
    checkout_id = str(uuid.uuid4())
    client = await context.services.checkouts()
    opened = False

    async def ask_saga() -> HoldSeatsResult:
        # After the claims and the admission: a refusal by the claims costs nothing more, and
        # the pointer is set right before the workflow it names starts.
        nonlocal opened
        # Set first: a hold cancelled while the pointer is being written still drops it
        # (forgetting is a compare-and-delete of this checkout's id: harmless if unset).
        opened = True
        await claim_open_checkout(context, user_id, event, checkout_id)
        return await client.start_and_hold(checkout_id, user_id, event, seats)

    try:
        result = await hold(context, checkout_id, event, seats, ask_saga)
    except DomainError as exc:
        if opened and (exc.code in _SELECTION_REFUSALS or exc.code == ErrorCode.TRY_AGAIN):
            # The saga refused the first hold, or did not answer it (a backend down, or the
            # call's backstop: the checkout client then cancels the checkout): either way it
            # ends holding nothing, and the buyer's next try must not be refused
            # CHECKOUT_ALREADY_OPEN.
            await forget_open_checkout(context, user_id, event, checkout_id)
        return _refused(exc, checkout=None)
    except asyncio.CancelledError:
        # The request's cap cut it: the checkout client cancels the checkout, so the same.
        if opened:
            await forget_open_checkout(context, user_id, event, checkout_id)
        raise
    _count(result)
    if not result.held:
        await forget_open_checkout(context, user_id, event, checkout_id)
    else:
        await turn_used(context, room_on, user_id, event, len(seats))
    return hold_payload(context, checkout_id, result)


@mutation.field("holdSeats")
async def resolve_hold_seats(
    _: Any,
    info: GraphQLResolveInfo,
    checkout_id: str,
    seat_ids: list[str],
    admission: str | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    checkout = uuid_arg(checkout_id, "checkoutId")
    seats = seats_arg(seat_ids, context.services.settings.max_seats_per_checkout)
    state = await owned_checkout(context, checkout)
    client = await context.services.checkouts()
    try:
        room_on = await admitted(context, state.user_id, state.event_id, admission)
        result = await hold(
            context, checkout, state.event_id, seats, lambda: client.hold(checkout, seats)
        )
    except DomainError as exc:
        return _refused(exc, checkout=state)
    _count(result)
    if result.held:
        await turn_used(context, room_on, state.user_id, state.event_id, len(seats))
    return hold_payload(context, checkout, result)


# --- the seed's lockSeat: one seat at a time into the buyer's open checkout for the event ---


class _OpenedElsewhere(DomainError):
    """A concurrent call of the same buyer opened the checkout first: hold in that one."""

    def __init__(self, checkout_id: str) -> None:
        super().__init__(ErrorCode.CHECKOUT_CLOSED, "another checkout was opened")
        self.checkout_id = checkout_id


async def hold_in_open_checkout(
    context: Context, user_id: str, event_id: str, seat_ids: list[str]
) -> tuple[HoldSeatsResult, str]:
    """Adds seats to the caller's open checkout for the event, opening one if needed.

    A buyer refused by the seats' claims opens nothing (``hold`` asks them before the saga).
    Two concurrent calls of one buyer agree on one checkout (the pointer is set only if
    absent), and a checkout that turns out closed (paid, failed, expired, cancelled) is
    replaced by a compare-and-set, so they agree on its successor too.
    """
    pointers = context.services.open_checkouts
    client = await context.services.checkouts()
    existing = await run_sync(pointers.current, user_id, event_id)
    checkout_id = existing or str(uuid.uuid4())
    for _ in range(3):
        closed = False

        # A hold answered TRY_AGAIN cancels a checkout this call opens, but never the buyer's
        # open one: the seats it held before stay held.
        async def ask_saga(
            checkout_id: str = checkout_id, opens: bool = checkout_id != existing
        ) -> HoldSeatsResult:
            opened = await run_sync(pointers.get_or_open, user_id, event_id, checkout_id)
            if opened != checkout_id:
                raise _OpenedElsewhere(opened)
            return await client.start_and_hold(checkout_id, user_id, event_id, seat_ids, opens)

        try:
            result = await hold(context, checkout_id, event_id, seat_ids, ask_saga)
            closed = not result.held and result.failure_reason == ErrorCode.CHECKOUT_CLOSED
        except _OpenedElsewhere as other:
            checkout_id = existing = other.checkout_id
            continue
        except DomainError as exc:
            if exc.code != ErrorCode.CHECKOUT_CLOSED:
                raise
            closed = True
        if not closed:
            return result, checkout_id
        checkout_id = await run_sync(pointers.replace, user_id, event_id, checkout_id)
    raise DomainError(ErrorCode.CHECKOUT_CLOSED, "could not open a checkout; please retry")


@mutation.field("lockSeat")
async def resolve_lock_seat(
    _: Any,
    info: GraphQLResolveInfo,
    seat_id: str,
    event_id: str,
    user_id: str,
    admission: str | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    user = acting_user(context, user_id)
    seat = uuid_arg(seat_id, "seatId")
    event = uuid_arg(event_id, "eventId")
    try:
        room_on = await admitted(context, user, event, admission)
        result, checkout_id = await hold_in_open_checkout(context, user, event, [seat])
    except DomainError as exc:
        labelled(LOCK_ACQUISITIONS, "refused").inc()
        return failure(exc, taken_seat_ids=exc.details.get("seat_ids"))
    _count(result)
    if result.held:
        await turn_used(context, room_on, user, event, 1)
    if not result.held:
        message = result.message or "seat not held"
        if result.taken:
            message = f"seat(s) already held or booked: {', '.join(result.taken)}"
        return {
            "success": False,
            "message": message,
            "failure_reason": result.failure_reason or ErrorCode.SEATS_UNAVAILABLE.value,
            "taken_seat_ids": result.taken,
        }
    return {
        "success": True,
        "lock_id": checkout_id,
        "expires_at": iso_from_epoch(result.expires_at),
        "message": f"{len(result.seat_ids)} seat(s) held in checkout {checkout_id}",
    }


BINDABLES = [mutation]
