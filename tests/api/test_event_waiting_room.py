"""Event.waitingRoom: the page's cue to show the queue, agreeing with the hold check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.services import Services
from tests.api.conftest import data_of

pytestmark = pytest.mark.usefixtures("api_worker")

EVENT = "query($e: ID!) { event(id: $e) { id waitingRoom } }"
SWITCH = """mutation($e: ID!, $on: Boolean!) { setWaitingRoom(eventId: $e, enabled: $on) {
  success } }"""
START = """mutation($e: ID!, $s: [ID!]!) { startCheckout(eventId: $e, seatIds: $s) {
  success failureReason } }"""


async def waiting_room(gql: Any, event_id: str) -> bool:
    # Signed out on purpose: a visitor who has not signed in is shown the queue too.
    return data_of(await gql(EVENT, {"e": event_id}))["event"]["waitingRoom"]  # type: ignore[no-any-return]


async def test_the_field_follows_the_organizers_switch_and_the_hold_check_agrees(
    gql: Any, make_buyer: Any, make_admin: Any, event_factory: Any
) -> None:
    event = event_factory(seats=4)
    assert await waiting_room(gql, event.id) is False
    switched = data_of(await gql(SWITCH, {"e": event.id, "on": True}, make_admin()))
    assert switched["setWaitingRoom"]["success"] is True
    assert await waiting_room(gql, event.id) is True
    refused = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, make_buyer()))
    assert refused["startCheckout"]["failureReason"] == "NOT_ADMITTED"

    data_of(await gql(SWITCH, {"e": event.id, "on": False}, make_admin()))
    assert await waiting_room(gql, event.id) is False
    held = data_of(await gql(START, {"e": event.id, "s": event.seat_ids[:1]}, make_buyer()))
    assert held["startCheckout"]["success"] is True, held


async def test_an_opening_time_turns_it_on_without_the_organizer(
    gql: Any, services: Services, event_factory: Any, engine: Engine
) -> None:
    event = event_factory(seats=2, status="SCHEDULED")
    assert await waiting_room(gql, event.id) is False
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE events SET on_sale_at = :t WHERE id = :e"),
            {"t": datetime.now(UTC) + timedelta(hours=1), "e": event.id},
        )
    assert services.waiting_room is not None
    services.waiting_room.forget(event.id)  # this process's one-second copy of the event
    assert await waiting_room(gql, event.id) is True
