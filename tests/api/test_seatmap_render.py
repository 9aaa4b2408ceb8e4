"""The seat map rendered without graphql-core's executor: the same bytes, or no render at all."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from ariadne.asgi.handlers import GraphQLHTTPHandler

from api.seatmap_render import SeatMapRenderer, _selection
from api.services import Services
from tests.api.conftest import Gql

EVERY_FIELD = """query Map($eventId: ID!) {
  availableSeats(eventId: $eventId) { id section row number type priceModifier price }
}"""
ALIASED = """query($e: ID!) {
  seats: availableSeats(eventId: $e) { __typename seat: id n: number price kind: type }
}"""


def starlette_bytes(result: dict[str, Any]) -> bytes:
    return json.dumps(
        result, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


def hold(services: Services, event_id: str, seat_id: str) -> None:
    assert services.seat_locks.acquire(event_id, [seat_id], str(uuid.uuid4()), "u", 60).acquired
    services.seatmap_events.changed(event_id, [seat_id], "held")


@pytest.mark.parametrize(
    ("query", "variable"), [(EVERY_FIELD, "eventId"), (ALIASED, "e")], ids=["fields", "aliases"]
)
async def test_renders_the_bytes_graphql_core_renders(
    schema: Any, services: Services, gql: Gql, event_factory: Any, query: str, variable: str
) -> None:
    event = event_factory(seats=6)
    hold(services, event.id, event.seat_ids[2])
    renderer = SeatMapRenderer(schema)
    assert await renderer.render(services, query, event.id) is None  # not yet proven

    renderer.executed(query)
    body = await renderer.render(services, query, event.id)

    expected = await gql(query, {variable: event.id})
    assert "errors" not in expected and len(next(iter(expected["data"].values()))) == 5
    assert body == starlette_bytes(expected)


async def test_errors_are_left_to_graphql_core(
    schema: Any, services: Services, event_factory: Any
) -> None:
    renderer = SeatMapRenderer(schema)
    renderer.executed(EVERY_FIELD)
    assert await renderer.render(services, EVERY_FIELD, str(uuid.uuid4())) is None  # unknown
    assert await renderer.render(services, EVERY_FIELD, "not-a-uuid") is None


async def test_over_http_a_change_is_rendered_directly_and_errors_still_answered(
    http: httpx.AsyncClient, services: Services, event_factory: Any, monkeypatch: Any
) -> None:
    event = event_factory(seats=3)
    executions = 0
    execute = GraphQLHTTPHandler.execute_graphql_query

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal executions
        executions += 1
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(GraphQLHTTPHandler, "execute_graphql_query", counted)

    async def read(event_id: str) -> dict[str, Any]:
        variables = {"eventId": event_id}
        response = await http.post("/graphql", json={"query": EVERY_FIELD, "variables": variables})
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    first = await read(event.id)  # graphql-core: the query text is proven from now on
    hold(services, event.id, event.seat_ids[0])
    second = await read(event.id)  # a re-render after the announced change

    assert [s["id"] for s in first["data"]["availableSeats"]] == event.seat_ids
    assert second["data"]["availableSeats"] == first["data"]["availableSeats"][1:]
    assert executions == 1  # the second read was rendered without graphql-core
    unknown = await read(str(uuid.uuid4()))
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert executions == 2


@pytest.mark.parametrize(
    "query",
    [
        '{ availableSeats(eventId: "x") { id } me { id } }',
        '{ availableSeats(eventId: "x") { ...F } } fragment F on Seat { id }',
        '{ availableSeats(eventId: "x") { id @include(if: true) } }',
        '{ availableSeats(eventId: "x") @skip(if: false) { id } }',
        "{ events { id } }",
        '{ availableSeats(eventId: "x") { id ',
    ],
    ids=["two roots", "fragment", "field directive", "root directive", "other field", "broken"],
)
def test_only_plain_selections_are_planned(query: str) -> None:
    assert _selection(query) is None


def test_a_plain_selection_keeps_aliases_in_order() -> None:
    assert _selection(ALIASED) == (
        "seats",
        (
            ("__typename", "__typename"),
            ("seat", "id"),
            ("n", "number"),
            ("price", "price"),
            ("kind", "type"),
        ),
    )


def test_an_unknown_field_is_not_planned(schema: Any) -> None:
    renderer = SeatMapRenderer(schema)
    renderer.executed('{ availableSeats(eventId: "x") { id nope } }')
    assert renderer.plan_for('{ availableSeats(eventId: "x") { id nope } }') is None


def test_proven_query_texts_are_bounded_least_recently_proven_first(schema: Any) -> None:
    renderer = SeatMapRenderer(schema, capacity=2)
    texts = [f'{{ availableSeats(eventId: "x") {{ id n{i}: number }} }}' for i in range(3)]
    for text in texts:
        renderer.executed(text)
    assert renderer.plan_for(texts[0]) is None  # evicted: it goes through graphql-core again
    assert renderer.plan_for(texts[1]) is not None and renderer.plan_for(texts[2]) is not None
