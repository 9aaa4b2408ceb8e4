"""Answers a ``startCheckout`` whose seats other checkouts claim without graphql-core.

What it saves: most holds of an on-sale are refused, and on the API's busy event loop each one
went through ariadne and graphql-core to return five fields. Here the seats' claims are read
from this process's copy of them (``adapters/claims_mirror.py``) and, when any is live, the
refusal is written directly: the same bytes, the same metrics, and nothing changed, just as
the claim script changes nothing when it refuses. Without it (and the copy), the flash sale's
refusal p99 was 433-703 ms against 266-333 ms with them (ABAB, ``docs/measurements.md``,
2026-12-06).

It never lets a hold through: a seat the copy shows free, an event without a copy, and anything
it cannot prove the same as graphql-core's answer go through graphql-core, whose resolver runs
the one hold path (``api/hold.py``). It answers only a single ``startCheckout`` mutation whose
two arguments are variables and whose selection is plain ``CheckoutPayload`` fields, for a
query text graphql-core has executed without errors in this process (parsing, validation and
the depth limit depend on the text alone), from an authenticated caller with valid arguments.

The waiting room's rule comes first here too, as in the resolver: while the event's room is on
(this process's copy of the switch says so; without a fresh copy graphql-core answers), a hold
whose ``admission`` variable is absent or not the caller's live admission is refused
NOT_ADMITTED, before any claim is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import FieldNode, OperationType, VariableNode

from adapters.waiting_room_service import not_admitted
from api.context import Context
from api.hold import claimed_by_others
from api.json_bytes import json_bytes
from api.metrics import LOCK_ACQUISITIONS, SEAT_CLAIMS, labelled
from api.proven_queries import ProvenQueries, lone_root_field
from api.resolvers.common import seats_arg, uuid_arg
from domain.errors import DomainError

ROOT_FIELD = "startCheckout"
PAYLOAD_TYPE = "CheckoutPayload"
PAYLOAD_FIELDS = {"success", "checkout", "takenSeatIds", "message", "failureReason", "__typename"}


@dataclass(frozen=True)
class RefusalPlan:
    operation_name: str | None
    root_key: str  # the response key: alias or field name
    event_variable: str
    seats_variable: str
    admission_variable: str | None  # the optional ``admission`` argument's variable
    fields: tuple[tuple[str, str], ...]  # (response key, payload field name)


@lru_cache(maxsize=256)
def refusal_plan(query: str) -> RefusalPlan | None:
    """The plan of a query this module can answer (see the module doc), else None."""
    found = lone_root_field(query, OperationType.MUTATION, ROOT_FIELD)
    if found is None or found[1].selection_set is None:
        return None
    operation, root = found
    arguments = {argument.name.value: argument.value for argument in root.arguments}
    event, seats = arguments.get("eventId"), arguments.get("seatIds")
    admission = arguments.get("admission")
    if len(arguments) != 2 + (admission is not None) or not isinstance(event, VariableNode):
        return None
    if admission is not None and not isinstance(admission, VariableNode):
        return None
    if not isinstance(seats, VariableNode):
        return None
    fields = []
    for node in root.selection_set.selections:
        # ``checkout`` may select anything below it: a refusal has none, so it is null.
        if (
            not isinstance(node, FieldNode)
            or node.directives
            or node.name.value not in PAYLOAD_FIELDS
        ):
            return None
        fields.append(((node.alias or node.name).value, node.name.value))
    return RefusalPlan(
        operation.name.value if operation.name else None,
        (root.alias or root.name).value,
        event.name.value,
        seats.name.value,
        admission.name.value if admission is not None else None,
        tuple(fields),
    )


class HoldRefusals:
    def __init__(self, capacity: int = 256) -> None:
        self._proven = ProvenQueries(refusal_plan, capacity)

    def proven(self, data: Any) -> RefusalPlan | None:
        """The plan of a query text graphql-core has answered here without errors."""
        query = data.get("query") if isinstance(data, dict) else None
        return self._proven.plan_for(query) if isinstance(query, str) else None

    def unproven(self, data: Any) -> str | None:
        """The query text when this module could answer it once graphql-core has."""
        query = data.get("query") if isinstance(data, dict) else None
        if not isinstance(query, str) or self._proven.plan_for(query) is not None:
            return None
        return query if refusal_plan(query) is not None else None

    def executed(self, query: str) -> None:
        """graphql-core answered ``query`` without errors: later refusals may skip it."""
        self._proven.executed(query)

    async def answer(self, plan: RefusalPlan, context: Context, data: Any) -> bytes | None:
        """The refusal's response body, or None when graphql-core must answer."""
        if context.identity is None:
            return None
        if data.get("operationName") not in (None, plan.operation_name):
            return None
        variables = data.get("variables")
        if not isinstance(variables, dict):
            return None
        services = context.services
        try:
            event_id = uuid_arg(variables.get(plan.event_variable), "eventId")
            seat_ids = seats_arg(
                variables.get(plan.seats_variable), services.settings.max_seats_per_checkout
            )
        except Exception:  # noqa: BLE001 - graphql-core reports a bad argument properly
            return None
        room = services.waiting_room
        if room is not None:
            event = room.cached_event(event_id)
            if event is False:
                return None  # no fresh copy of the room's switch here: graphql-core decides
            token = variables.get(plan.admission_variable) if plan.admission_variable else None
            if event is not None and event.room_on:
                if not room.admits(token, context.identity.user_id, event_id):
                    labelled(LOCK_ACQUISITIONS, "refused").inc()
                    return _body(plan, not_admitted(), [])
        # A new checkout: every live claim is another checkout's.
        taken = services.claims_mirror.taken(event_id, seat_ids)
        if not taken:
            return None
        labelled(SEAT_CLAIMS, "refused_by_copy").inc()
        labelled(LOCK_ACQUISITIONS, "refused").inc()
        return _body(plan, claimed_by_others(taken), list(taken))


def _body(plan: RefusalPlan, error: DomainError, taken: list[str]) -> bytes:
    """The bytes graphql-core would send for this refusal of ``plan``'s query."""
    values = {
        "success": False,
        "checkout": None,
        "takenSeatIds": taken,
        "message": error.message,
        "failureReason": error.code.value,
        "__typename": PAYLOAD_TYPE,
    }
    payload: dict[str, Any] = {}
    for key, name in plan.fields:
        payload.setdefault(key, values[name])
    return json_bytes({"data": {plan.root_key: payload}})
