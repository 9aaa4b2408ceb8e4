"""Answers a ``startCheckout`` whose seats other checkouts claim without graphql-core.

Most holds of an on-sale are refused: 14,000 of the ~14,700 in a 10,000-buyer sale. Each went
through ariadne and graphql-core's executor to run one Redis script and return five fields,
~0.35 ms of the API's CPU apart from the claim itself (`python -m bench --sections api`, whose
fast requests are 30% such refusals: 0.52 and 0.49 ms of CPU per request through the
executor, 0.41 and 0.40 ms with a prototype of this). Here the seats' claims are read from
this process's copy of them (``adapters/claims_mirror.py``), or with one HMGET
(``SeatClaims.taken``) while it has none, and, when any is live, the refusal is written
directly: the same bytes, the same metrics, and nothing changed, just as the claim script
changes nothing when it refuses. From the copy, a refusal waits for nothing at all.
Otherwise the request goes through graphql-core, whose resolver claims the seats atomically
(``api/resolvers/common.py::claim_and_hold``): a seat the copy shows free is never let
through without the claim script.

As with the seat-map renderer (``api/seatmap_render.py``), only for what it can prove the same:
a single ``startCheckout`` mutation whose two arguments are variables and whose selection is
plain ``CheckoutPayload`` fields, and only for a query text that graphql-core has executed
without errors in this process (parsing, validation and the depth limit depend on the text
alone). The caller must be authenticated and the arguments valid; anything else (no token, a
malformed id, an unknown event, Redis away) goes through graphql-core, which answers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import FieldNode, OperationType, VariableNode
from redis.exceptions import RedisError

from api.context import Context
from api.json_bytes import json_bytes
from api.metrics import CLAIM_READS, LOCK_ACQUISITIONS, SEAT_CLAIMS
from api.proven_queries import ProvenQueries, lone_root_field
from api.resolvers.common import claimed_by_others, seats_arg, uuid_arg

ROOT_FIELD = "startCheckout"
PAYLOAD_TYPE = "CheckoutPayload"
PAYLOAD_FIELDS = {"success", "checkout", "takenSeatIds", "message", "failureReason", "__typename"}


@dataclass(frozen=True)
class RefusalPlan:
    operation_name: str | None
    root_key: str  # the response key: alias or field name
    event_variable: str
    seats_variable: str
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
    if len(arguments) != 2 or not isinstance(event, VariableNode):
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
            source, taken = "copy", services.claims_mirror.taken(event_id, seat_ids)
            if taken is None:  # no current copy of the event's claims in this process
                source, taken = "redis", await services.claims.taken(event_id, seat_ids)
        except RedisError:
            return None  # the resolver's claim fails open, and says so in the log
        except Exception:  # noqa: BLE001 - graphql-core reports a bad argument properly
            return None
        CLAIM_READS.labels(source, "taken" if taken else "free").inc()
        if not taken:
            return None
        SEAT_CLAIMS.labels("refused").inc()
        LOCK_ACQUISITIONS.labels("refused").inc()
        error = claimed_by_others(taken)
        values = {
            "success": False,
            "checkout": None,
            "takenSeatIds": list(taken),
            "message": error.message,
            "failureReason": error.code.value,
            "__typename": PAYLOAD_TYPE,
        }
        payload: dict[str, Any] = {}
        for key, name in plan.fields:
            payload.setdefault(key, values[name])
        return json_bytes({"data": {plan.root_key: payload}})
