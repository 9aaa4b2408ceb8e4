"""The seat plan of an event (``seatMap``): every seat, where it is, and its status.

From the same sources as ``availableSeats`` and under the same cache protocol
(``adapters/seatmap_cache.py``, one version per event, so the same announcements invalidate
it and the same staleness bound holds): the event's inventory rows in PostgreSQL, BOOKED and
BLOCKED as they say, and AVAILABLE rows under a live hold (the grants the saga records, as
for ``availableSeats``) shown HELD. A seat is AVAILABLE here exactly when ``availableSeats``
lists it.

A 5,000-seat plan is about 600 KB of JSON in Redis; it is rebuilt once per change per event,
not per request (and over HTTP the response itself is cached, ``api/response_cache.py``).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

import redis
from sqlalchemy import Engine, select

from adapters.orm import Event, EventSeat, Seat, Venue
from adapters.seatmap_cache import PLAN, Encoded, VersionedRebuilds
from domain.model import SeatStatus
from domain.ports import SeatLocks
from domain.pricing import seat_price

log = logging.getLogger(__name__)

HELD = "HELD"


@dataclass(frozen=True)
class PlanSeat:
    id: str
    section: str
    row: str
    number: int
    type: str
    price: Decimal
    x: float
    y: float
    status: str  # AVAILABLE, HELD, BOOKED or BLOCKED


@dataclass(frozen=True)
class SeatPlan:
    event_id: str
    width: float
    height: float
    seats: tuple[PlanSeat, ...]  # in seat-map order: section, row, number
    source: str  # "cache", "rebuilt" or "database" (Redis unreachable)


def plan_status(inventory_status: str, held: bool) -> str:
    """A seat's map status: the inventory's, except a free seat under a live hold."""
    if inventory_status == SeatStatus.AVAILABLE.value:
        return HELD if held else SeatStatus.AVAILABLE.value
    return inventory_status


def _encode(width: float, height: float, seats: list[list[object]]) -> str:
    return json.dumps({"w": width, "h": height, "s": seats}, separators=(",", ":"))


def _decode(event_id: str, raw: bytes | str, source: str) -> SeatPlan:
    data = json.loads(raw)
    return SeatPlan(
        event_id=event_id,
        width=data["w"],
        height=data["h"],
        seats=tuple(
            PlanSeat(i, sec, row, num, typ, Decimal(price), x, y, status)
            for i, sec, row, num, typ, price, x, y, status in data["s"]
        ),
        source=source,
    )


class SeatPlanCache:
    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        seat_locks: SeatLocks,
        prefix: str,
        max_staleness_ms: int = 1000,
    ) -> None:
        self._engine = engine
        self._locks = seat_locks
        self._entries = VersionedRebuilds(client, prefix, max_staleness_ms)

    def get(self, event_id: str) -> SeatPlan | None:
        """The event's plan, or None for an unknown event (``event_id`` a canonical uuid)."""
        try:
            raw, source = self._entries.get(event_id, PLAN, lambda: self.build(event_id))
        except redis.RedisError as exc:
            log.warning("seat plan cache unavailable, reading the database: %s", exc)
            built = self.build(event_id)
            raw, source = (built[0] if built is not None else None), "database"
        return None if raw is None else _decode(event_id, raw, source)

    def build(self, event_id: str) -> Encoded | None:
        """Straight from the sources: the inventory rows, then the live holds (read after the
        rows, like ``availableSeats``: a hold taken in between shows at the next change)."""
        key = uuid.UUID(event_id)
        with self._engine.connect() as conn:
            event = conn.execute(
                select(Event.base_price, Venue.width, Venue.height)
                .join(Venue, Venue.id == Event.venue_id)
                .where(Event.id == key)
            ).one_or_none()
            if event is None:
                return None
            rows = conn.execute(
                select(
                    Seat.id,
                    Seat.section,
                    Seat.row,
                    Seat.number,
                    Seat.type,
                    Seat.price_modifier,
                    Seat.x,
                    Seat.y,
                    EventSeat.status,
                )
                .join(EventSeat, EventSeat.seat_id == Seat.id)
                .where(EventSeat.event_id == key)
                .order_by(Seat.section, Seat.row, Seat.number)
            ).all()
        held = self._locks.held_seat_ids(event_id)
        seats: list[list[object]] = [
            [
                str(r.id),
                r.section,
                r.row,
                r.number,
                r.type,
                str(seat_price(event.base_price, r.price_modifier)),
                r.x,
                r.y,
                plan_status(r.status, str(r.id) in held),
            ]
            for r in rows
        ]
        return _encode(event.width, event.height, seats), len(seats)
