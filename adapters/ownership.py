"""Who manages a venue or an event: the organizer that created it (an ADMIN manages all)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from adapters.orm import Event, Venue


@dataclass(frozen=True)
class ManagedEvent:
    id: str
    organizer_id: str | None
    venue_id: str
    status: str
    event_date: datetime
    on_sale_at: datetime | None
    currency: str


def _key(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def event_owner(engine: Engine, event_id: str) -> ManagedEvent | None:
    key = _key(event_id)
    if key is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(
                Event.id,
                Event.organizer_id,
                Event.venue_id,
                Event.status,
                Event.event_date,
                Event.on_sale_at,
                Event.currency,
            ).where(Event.id == key)
        ).first()
    if row is None:
        return None
    return ManagedEvent(
        id=str(row.id),
        organizer_id=str(row.organizer_id) if row.organizer_id else None,
        venue_id=str(row.venue_id),
        status=row.status,
        event_date=row.event_date,
        on_sale_at=row.on_sale_at,
        currency=row.currency,
    )


def venue_owner(engine: Engine, venue_id: str) -> str | None | bool:
    """The venue's owner id; None when it has none; False when there is no such venue."""
    key = _key(venue_id)
    if key is None:
        return False
    with engine.connect() as conn:
        row = conn.execute(select(Venue.owner_id).where(Venue.id == key)).first()
    if row is None:
        return False
    return str(row.owner_id) if row.owner_id else None
