"""publishEvent, pauseSales, resumeSales, cancelEvent and eventCancellation through GraphQL,
with the role checks: only the event's organizer or an ADMIN; refusals change nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, update

from adapters.orm import Event
from tests.api.conftest import Buyer, Gql, data_of, error_codes
from tests.api.factory import make_event
from tests.e2e.event_helpers import status_of

pytestmark = pytest.mark.usefixtures("api_worker")

EVENT_FIELDS = "success message failureReason event { id status cancelReason canPurchaseTickets }"
PUBLISH = f"mutation($id: ID!) {{ publishEvent(eventId: $id) {{ {EVENT_FIELDS} }} }}"
PAUSE = f"mutation($id: ID!) {{ pauseSales(eventId: $id) {{ {EVENT_FIELDS} }} }}"
RESUME = f"mutation($id: ID!) {{ resumeSales(eventId: $id) {{ {EVENT_FIELDS} }} }}"
CANCEL = (
    "mutation($id: ID!, $reason: String!) "
    f"{{ cancelEvent(eventId: $id, reason: $reason) {{ {EVENT_FIELDS} }} }}"
)
PROGRESS = (
    "query($id: ID!) { eventCancellation(eventId: $id) "
    "{ eventId reason toRefund refunded checkoutsCancelled done } }"
)
EVENT = "query($id: ID!) { event(id: $id) { status availableSeats canPurchaseTickets } }"


def owned_event(engine: Engine, owner: Buyer, status: str = "DRAFT", seats: int = 4) -> str:
    event = make_event(engine, seats=seats, status=status)
    with engine.begin() as conn:
        conn.execute(
            update(Event)
            .where(Event.id == uuid.UUID(event.id))
            .values(organizer_id=uuid.UUID(owner.id))
        )
    return event.id


async def run(gql: Gql, query: str, who: Buyer | None, **variables: Any) -> dict[str, Any]:
    return data_of(await gql(query, variables, buyer=who))


def payload(result: dict[str, Any]) -> dict[str, Any]:
    (value,) = result.values()
    return value  # type: ignore[no-any-return]


async def test_the_organizer_publishes_pauses_resumes_and_cancels(
    gql: Gql, engine: Engine, make_organizer: Any
) -> None:
    organizer = make_organizer()
    event_id = owned_event(engine, organizer)

    published = payload(await run(gql, PUBLISH, organizer, id=event_id))
    assert published["success"] and published["failureReason"] is None
    assert published["event"]["status"] == "ON_SALE" and published["event"]["canPurchaseTickets"]

    paused = payload(await run(gql, PAUSE, organizer, id=event_id))
    assert paused["success"] and paused["event"]["status"] == "PAUSED"
    # the catalog reflects the pause at once
    shown = (await run(gql, EVENT, None, id=event_id))["event"]
    assert shown["status"] == "PAUSED" and shown["canPurchaseTickets"] is False
    again = payload(await run(gql, PAUSE, organizer, id=event_id))
    assert not again["success"] and again["failureReason"] == "INVALID_STATE"
    assert "PAUSED" in again["message"] and again["event"]["status"] == "PAUSED"

    resumed = payload(await run(gql, RESUME, organizer, id=event_id))
    assert resumed["success"] and resumed["event"]["status"] == "ON_SALE"
    assert (await run(gql, EVENT, None, id=event_id))["event"]["canPurchaseTickets"] is True

    cancelled = payload(await run(gql, CANCEL, organizer, id=event_id, reason="storm"))
    assert cancelled["success"], cancelled
    assert cancelled["event"]["status"] == "CANCELLED"
    assert cancelled["event"]["cancelReason"] == "storm"
    twice = payload(await run(gql, CANCEL, organizer, id=event_id, reason="again"))
    assert not twice["success"] and twice["failureReason"] == "INVALID_STATE"
    assert "already cancelled" in twice["message"]

    progress = None
    for _ in range(100):
        progress = (await run(gql, PROGRESS, organizer, id=event_id))["eventCancellation"]
        if progress is not None and progress["done"]:
            break
        await asyncio.sleep(0.1)
    assert progress == {
        "eventId": event_id,
        "reason": "storm",
        "toRefund": 0,
        "refunded": 0,
        "checkoutsCancelled": 0,
        "done": True,
    }


async def test_an_admin_may_act_on_any_event(
    gql: Gql, engine: Engine, make_organizer: Any, make_admin: Any
) -> None:
    event_id = owned_event(engine, make_organizer())
    result = payload(await run(gql, PUBLISH, make_admin(), id=event_id))
    assert result["success"] and result["event"]["status"] == "ON_SALE"


async def test_strangers_are_refused_and_nothing_changes(
    gql: Gql, engine: Engine, make_organizer: Any, make_buyer: Any
) -> None:
    owner, other, buyer = make_organizer(), make_organizer(), make_buyer()
    event_id = owned_event(engine, owner, status="ON_SALE")

    for who, code in ((other, "FORBIDDEN"), (buyer, "FORBIDDEN")):
        for query, extra in ((PUBLISH, {}), (PAUSE, {}), (RESUME, {}), (CANCEL, {"reason": "x"})):
            result = payload(await run(gql, query, who, id=event_id, **extra))
            assert not result["success"] and result["failureReason"] == code, result
            assert result["event"] is None
    assert status_of(engine, event_id) == "ON_SALE"
    missing = payload(await run(gql, PAUSE, owner, id=str(uuid.uuid4())))
    assert missing["failureReason"] == "NOT_FOUND"
    assert error_codes(await gql(PROGRESS, {"id": event_id}, buyer=other)) == ["FORBIDDEN"]
    assert error_codes(await gql(PAUSE, {"id": event_id})) == ["UNAUTHENTICATED"]


async def test_bad_commands_are_payload_failures(
    gql: Gql, engine: Engine, make_organizer: Any
) -> None:
    organizer = make_organizer()
    draft = owned_event(engine, organizer)

    no_reason = payload(await run(gql, CANCEL, organizer, id=draft, reason="   "))
    assert no_reason["failureReason"] == "INVALID_INPUT"
    resume_draft = payload(await run(gql, RESUME, organizer, id=draft))
    assert resume_draft["failureReason"] == "INVALID_STATE"
    assert status_of(engine, draft) == "DRAFT"
    seeded_cancel = owned_event(engine, organizer, status="CANCELLED")
    publish_cancelled = payload(await run(gql, PUBLISH, organizer, id=seeded_cancel))
    assert publish_cancelled["failureReason"] == "INVALID_STATE"
    # never cancelled through the workflow: no progress to show
    assert (await run(gql, PROGRESS, organizer, id=draft))["eventCancellation"] is None
