"""Renders a seat-map response without graphql-core's executor, for queries it already ran.

When the seat map changes, the response cache (``api/response_cache.py``) renders the map
again, a few times a second in an on-sale, and every other request of the process waits on the
event loop behind each render. What it saves: through graphql-core a 1,000-seat map is ~4,000
field executions, about 32 ms of the event loop per render, against ~1.8 ms here; the flash
sale's refusal p99 with and without it is in ``docs/measurements.md`` (2026-12-06). This builds
the same bytes from the same rows in a list comprehension, with the schema's own serializers.

Only for what it can prove identical: a single ``availableSeats`` root field (aliased or not)
selecting plain ``Seat`` fields and ``__typename``, and only for a query text that graphql-core
has already executed without errors in this process. Parsing, validation and the depth limit
depend only on the text, so that run stands for them; the variables hold just the event id,
which the response cache has read as a string. Anything else, and any error (an unknown event,
a malformed id, an outage), goes through graphql-core, which answers it properly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ariadne.utils import convert_camel_case_to_snake
from graphql import (
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from adapters.catalog import SeatInfo
from api.json_bytes import json_bytes
from api.metrics import SEATMAP_RENDER_STEP
from api.proven_queries import ProvenQueries
from api.resolvers.catalog import available_seats
from api.response_cache import seat_map_query
from api.services import Services

SEAT_TYPE = "Seat"
TYPENAME = "__typename"


@dataclass(frozen=True)
class SeatColumn:
    key: str  # the response key: alias or field name
    value: Callable[[SeatInfo], Any]  # the serialized value of one seat


def _serialized(attribute: str, serialize: Callable[[Any], Any]) -> Callable[[SeatInfo], Any]:
    return lambda seat: serialize(getattr(seat, attribute))


def _typename(_: SeatInfo) -> str:
    return SEAT_TYPE


@dataclass(frozen=True)
class SeatMapPlan:
    root_key: str
    columns: tuple[SeatColumn, ...]


def _selection(query: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(root key, ((key, field name), ...)) of a ``seat_map_query`` selecting scalars only."""
    found = seat_map_query(query)
    if found is None:
        return None
    _, root = found
    if root.selection_set is None:
        return None
    fields = []
    for node in root.selection_set.selections:
        if not isinstance(node, FieldNode) or node.selection_set:
            return None
        fields.append(((node.alias or node.name).value, node.name.value))
    return (root.alias or root.name).value, tuple(fields)


class SeatMapRenderer:
    def __init__(self, schema: GraphQLSchema, capacity: int = 256) -> None:
        seat_type = schema.type_map.get(SEAT_TYPE)
        assert isinstance(seat_type, GraphQLObjectType), "the schema has no Seat type"
        self._seat_type = seat_type
        self._proven = ProvenQueries(lru_cache(maxsize=capacity)(self._build_plan), capacity)

    def _build_plan(self, query: str) -> SeatMapPlan | None:
        selection = _selection(query)
        if selection is None:
            return None
        root_key, fields = selection
        columns = []
        for key, name in fields:
            if name == TYPENAME:
                columns.append(SeatColumn(key, _typename))
                continue
            field = self._seat_type.fields.get(name)
            if field is None:
                return None
            serialize = get_named_type(field.type).serialize  # type: ignore[union-attr]
            columns.append(
                SeatColumn(key, _serialized(convert_camel_case_to_snake(name), serialize))
            )
        return SeatMapPlan(root_key, tuple(columns))

    def executed(self, query: str) -> None:
        """graphql-core answered ``query`` without errors: later renders may skip it."""
        self._proven.executed(query)

    def plan_for(self, query: str) -> SeatMapPlan | None:
        return self._proven.plan_for(query)

    async def render(self, services: Services, query: str, event_id: str) -> bytes | None:
        """The response body, or None when graphql-core must answer (see the module doc)."""
        plan = self.plan_for(query)
        if plan is None:
            return None
        try:
            seats = await available_seats(services, event_id)
            with SEATMAP_RENDER_STEP.labels("encode").time():
                rows = [{c.key: c.value(seat) for c in plan.columns} for seat in seats]
                return json_bytes({"data": {plan.root_key: rows}})
        except Exception:  # noqa: BLE001 - graphql-core runs it again and reports the error
            return None
