"""EventCatalog.selection: the event and the asked seats, read together on one connection."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from adapters.catalog import EventCatalog
from tests.factories import PostgresWorld


def test_selection_is_the_event_and_exactly_the_asked_seats_of_it(engine: Engine) -> None:
    world = PostgresWorld(engine)
    event, other = world.new_event(n_seats=3), world.new_event(n_seats=1)
    catalog = EventCatalog(engine)
    asked = [event.seat_ids[2], event.seat_ids[0], other.seat_ids[0]]

    info, rows = catalog.selection(event.event_id, asked)

    assert info == catalog.get_event(event.event_id)
    assert info is not None and info.id == event.event_id
    assert sorted(r.id for r in rows) == sorted([event.seat_ids[0], event.seat_ids[2]])
    assert rows == catalog.seat_rows(event.event_id, asked)


def test_selection_of_an_unknown_or_malformed_event_is_empty(engine: Engine) -> None:
    catalog = EventCatalog(engine)

    assert catalog.selection(str(uuid.uuid4()), [str(uuid.uuid4())]) == (None, [])
    assert catalog.selection("not-a-uuid", ["x"]) == (None, [])
