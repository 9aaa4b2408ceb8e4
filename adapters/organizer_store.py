"""An organizer's writes in PostgreSQL: venues with their seats, events, blocked seats.

Every write is one transaction that checks before it changes anything, so a refusal
(a ``DomainError``) leaves the database as it was. Who may call these is the API's check
(``api/roles.py``); the rules on the input are ``domain/venue_layout`` and
``domain/organizer_input``.

Races: ``update_venue`` takes the venue's row ``FOR UPDATE`` and ``create_event`` takes it
``FOR SHARE``, so a layout is never replaced under an event being created on it. Seat blocks
lock the event's inventory rows in seat order, like the booking confirm does, so a block and a
booking of the same seat never deadlock; the one that comes second sees the other's result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from adapters.bookings import follow_inventory
from adapters.catalog import VenueInfo
from adapters.db import transaction
from adapters.orm import Event, EventSeat, Seat, Venue
from domain.errors import DomainError, ErrorCode
from domain.event_lifecycle import is_editable
from domain.model import EventStatus, SeatStatus
from domain.organizer_input import EventFields, updated_event
from domain.venue_layout import Layout, VenueSpec

_VENUE_COLUMNS = (
    Venue.id,
    Venue.name,
    Venue.address,
    Venue.total_capacity,
    Venue.width,
    Venue.height,
)
_VENUE_NAME_UNIQUE = "uq_venues_owner_id_name"
# A block on a cancelled or finished event changes nothing anyone could buy.
_NO_BLOCKS = frozenset({EventStatus.CANCELLED.value, EventStatus.COMPLETED.value})


def _venue(row: Any) -> VenueInfo:
    return VenueInfo(
        id=str(row.id),
        name=row.name,
        address=row.address,
        total_capacity=row.total_capacity,
        width=row.width,
        height=row.height,
    )


def _key(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, f"{what} not found") from None


def _venue_values(spec: VenueSpec, layout: Layout) -> dict[str, Any]:
    """A venue row's fields that its layout decides (new venue or replaced layout alike)."""
    return {
        "name": spec.name,
        "address": spec.address,
        "total_capacity": len(layout.seats),
        "width": layout.width,
        "height": layout.height,
    }


def seat_rows(venue_id: uuid.UUID, layout: Layout) -> list[dict[str, Any]]:
    """The ``seats`` rows of a laid-out venue (new ids)."""
    return [
        {
            "id": uuid.uuid4(),
            "venue_id": venue_id,
            "section": s.section,
            "row": s.row,
            "number": s.number,
            "type": s.type,
            "price_modifier": s.price_modifier,
            "x": s.x,
            "y": s.y,
        }
        for s in layout.seats
    ]


def _names(seat_ids: Sequence[uuid.UUID]) -> list[str]:
    return sorted(str(s) for s in seat_ids)


class OrganizerStore:
    def __init__(self, engine: Engine, lock_timeout_ms: int = 2000) -> None:
        self._engine = engine
        self._lock_timeout_ms = lock_timeout_ms

    # --- venues -----------------------------------------------------------------------

    def create_venue(self, owner_id: str, spec: VenueSpec, layout: Layout) -> VenueInfo:
        """The venue and all its seats.

        Raises:
            DomainError: INVALID_INPUT if the owner already has a venue of that name.
        """
        venue_id = uuid.uuid4()
        with self._transaction(spec.name) as conn:
            conn.execute(
                insert(Venue).values(
                    id=venue_id, owner_id=_key(owner_id, "user"), **_venue_values(spec, layout)
                )
            )
            self._insert_seats(conn, venue_id, layout)
            return self._venue_in(conn, venue_id)

    def update_venue(self, venue_id: str, spec: VenueSpec, layout: Layout) -> VenueInfo:
        """Replaces the venue's name, address and every seat, while no event uses it.

        Raises:
            DomainError: NOT_FOUND, INVALID_STATE (an event uses the venue: its inventory and
                bookings name these seats), INVALID_INPUT (the owner has another venue of
                that name).
        """
        key = _key(venue_id, "venue")
        with self._transaction(spec.name) as conn:
            found = conn.execute(select(Venue.id).where(Venue.id == key).with_for_update()).first()
            if found is None:
                raise DomainError(ErrorCode.NOT_FOUND, "venue not found")
            if conn.execute(select(exists().where(Event.venue_id == key))).scalar_one():
                raise DomainError(
                    ErrorCode.INVALID_STATE,
                    "an event uses this venue: its layout can no longer change",
                )
            conn.execute(delete(Seat).where(Seat.venue_id == key))
            conn.execute(update(Venue).where(Venue.id == key).values(**_venue_values(spec, layout)))
            self._insert_seats(conn, key, layout)
            return self._venue_in(conn, key)

    def venues_of(self, owner_id: str | None) -> list[VenueInfo]:
        """One owner's venues by name; ``None`` lists every venue (an ADMIN)."""
        query = select(*_VENUE_COLUMNS).order_by(Venue.name, Venue.id)
        if owner_id is not None:
            query = query.where(Venue.owner_id == _key(owner_id, "user"))
        with self._engine.connect() as conn:
            return [_venue(row) for row in conn.execute(query)]

    # --- events -----------------------------------------------------------------------

    def create_event(self, organizer_id: str, venue_id: str, fields: EventFields) -> str:
        """A DRAFT event with one AVAILABLE inventory row per seat of the venue; its id.

        The event's organizer is the venue's owner: an ADMIN creating an event on someone's
        venue does it for them, and they then manage it. A venue without an owner (loaded
        by hand) makes the caller the organizer.

        Raises:
            DomainError: NOT_FOUND for an unknown venue.
        """
        venue_key = _key(venue_id, "venue")
        event_id = uuid.uuid4()
        with self._transaction() as conn:
            venue = conn.execute(
                select(Venue.total_capacity, Venue.owner_id)
                .where(Venue.id == venue_key)
                .with_for_update(read=True)
            ).first()
            if venue is None:
                raise DomainError(ErrorCode.NOT_FOUND, "venue not found")
            conn.execute(
                insert(Event).values(
                    id=event_id,
                    venue_id=venue_key,
                    organizer_id=venue.owner_id or _key(organizer_id, "user"),
                    name=fields.name,
                    description=fields.description,
                    event_date=fields.event_date,
                    status=EventStatus.DRAFT.value,
                    base_price=fields.base_price,
                    currency=fields.currency,
                    max_capacity=venue.total_capacity,
                    on_sale_at=fields.on_sale_at,
                    max_tickets_per_buyer=fields.max_tickets_per_buyer,
                )
            )
            # Copied inside PostgreSQL: a 5,000-seat house costs one statement, no round trips.
            conn.execute(
                text(
                    "INSERT INTO event_seats (event_id, seat_id) "
                    "SELECT :event_id, id FROM seats WHERE venue_id = :venue_id"
                ),
                {"event_id": event_id, "venue_id": venue_key},
            )
        return str(event_id)

    def update_event(self, event_id: str, changes: Mapping[str, Any], now: datetime) -> str:
        """Applies an ``EventUpdateInput`` while the event is DRAFT or SCHEDULED; returns the
        status it had under the lock (a SCHEDULED event's lifecycle must re-read its dates).

        Raises:
            DomainError: NOT_FOUND, INVALID_STATE (the sale opened, or the event ended),
                INVALID_INPUT (``domain.organizer_input.updated_event``).
        """
        key = _key(event_id, "event")
        with self._transaction() as conn:
            row = conn.execute(
                select(
                    Event.status,
                    Event.name,
                    Event.description,
                    Event.event_date,
                    Event.base_price,
                    Event.currency,
                    Event.on_sale_at,
                    Event.max_tickets_per_buyer,
                )
                .where(Event.id == key)
                .with_for_update()
            ).first()
            if row is None:
                raise DomainError(ErrorCode.NOT_FOUND, "event not found")
            if not is_editable(row.status):
                raise DomainError(
                    ErrorCode.INVALID_STATE,
                    f"an event that is {row.status} can no longer be edited",
                    status=row.status,
                )
            current = EventFields(
                name=row.name,
                description=row.description,
                event_date=row.event_date,
                base_price=row.base_price,
                currency=row.currency,
                on_sale_at=row.on_sale_at,
                max_tickets_per_buyer=row.max_tickets_per_buyer,
            )
            fields = updated_event(current, changes, now)
            if fields != current:
                conn.execute(
                    update(Event)
                    .where(Event.id == key)
                    .values(
                        name=fields.name,
                        description=fields.description,
                        event_date=fields.event_date,
                        base_price=fields.base_price,
                        currency=fields.currency,
                        on_sale_at=fields.on_sale_at,
                        max_tickets_per_buyer=fields.max_tickets_per_buyer,
                    )
                )
            return str(row.status)

    # --- blocked seats ----------------------------------------------------------------

    def block_seats(self, event_id: str, seat_ids: Sequence[str], reason: str) -> list[str]:
        """Takes AVAILABLE seats of the event off sale, all or none; returns the seats whose
        status changed (blocking a blocked seat again only updates its reason).

        Raises:
            DomainError: NOT_FOUND (the event, or seats not in its inventory: ``seat_ids``),
                INVALID_STATE (booked seats: ``seat_ids``; a cancelled or completed event),
                LOCK_CONTENTION.
        """
        key = _key(event_id, "event")
        with self._transaction() as conn:
            found = self._lock_inventory(conn, key, seat_ids, "booked seats cannot be blocked")
            conn.execute(
                update(EventSeat)
                .where(EventSeat.event_id == key, EventSeat.seat_id.in_(list(found)))
                .values(status=SeatStatus.BLOCKED.value, block_reason=reason)
            )
            # Blocking the last unsold seats sells the event out, as booking them would.
            follow_inventory(conn, key)
        return _names([s for s, status in found.items() if status == SeatStatus.AVAILABLE.value])

    def unblock_seats(self, event_id: str, seat_ids: Sequence[str]) -> list[str]:
        """Puts BLOCKED seats back on sale; returns those that changed (an AVAILABLE seat is
        left as it is).

        Raises:
            DomainError: NOT_FOUND (as ``block_seats``), INVALID_STATE (booked seats were never
                blocked: ``seat_ids``; a cancelled or completed event), LOCK_CONTENTION.
        """
        key = _key(event_id, "event")
        with self._transaction() as conn:
            found = self._lock_inventory(conn, key, seat_ids, "booked seats are not blocked")
            blocked = [s for s, status in found.items() if status == SeatStatus.BLOCKED.value]
            if blocked:
                conn.execute(
                    update(EventSeat)
                    .where(EventSeat.event_id == key, EventSeat.seat_id.in_(blocked))
                    .values(status=SeatStatus.AVAILABLE.value, block_reason=None)
                )
                follow_inventory(conn, key)
        return _names(blocked)

    def _lock_inventory(
        self, conn: Connection, event_key: uuid.UUID, seat_ids: Sequence[str], if_booked: str
    ) -> dict[uuid.UUID, str]:
        """Row-locks the seats' inventory rows in seat order: seat -> status. A booked seat is
        neither blocked nor unblocked: refused INVALID_STATE with ``if_booked``."""
        # The event row in the mode ``follow_inventory`` takes it later in this transaction:
        # two blocks of one event queue here instead of deadlocking on an upgrade.
        status = conn.execute(
            select(Event.status).where(Event.id == event_key).with_for_update(key_share=True)
        ).scalar_one_or_none()
        if status is None:
            raise DomainError(ErrorCode.NOT_FOUND, "event not found")
        if status in _NO_BLOCKS:
            raise DomainError(
                ErrorCode.INVALID_STATE,
                f"the seats of an event that is {status} cannot change",
                status=status,
            )
        wanted = sorted({_key(s, "seat") for s in seat_ids})
        rows = conn.execute(
            select(EventSeat.seat_id, EventSeat.status)
            .where(EventSeat.event_id == event_key, EventSeat.seat_id.in_(wanted))
            .order_by(EventSeat.seat_id)
            .with_for_update()
        ).all()
        found = {row.seat_id: row.status for row in rows}
        missing = [s for s in wanted if s not in found]
        if missing:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"seats not in this event: {', '.join(_names(missing))}",
                seat_ids=_names(missing),
            )
        booked = [s for s, status in found.items() if status == SeatStatus.BOOKED.value]
        if booked:
            raise DomainError(
                ErrorCode.INVALID_STATE,
                f"{if_booked}: {', '.join(_names(booked))}",
                seat_ids=_names(booked),
            )
        return found

    # --- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _insert_seats(conn: Connection, venue_id: uuid.UUID, layout: Layout) -> None:
        # One INSERT executed with many rows: SQLAlchemy sends it as multi-row VALUES batches
        # (insertmanyvalues), a handful of round trips for a 5,000-seat venue.
        conn.execute(insert(Seat), seat_rows(venue_id, layout))

    @staticmethod
    def _venue_in(conn: Connection, venue_id: uuid.UUID) -> VenueInfo:
        return _venue(conn.execute(select(*_VENUE_COLUMNS).where(Venue.id == venue_id)).one())

    @contextmanager
    def _transaction(self, venue_name: str | None = None) -> Iterator[Connection]:
        try:
            with transaction(self._engine, self._lock_timeout_ms) as conn:
                yield conn
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
            if venue_name is not None and constraint == _VENUE_NAME_UNIQUE:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"you already have a venue named {venue_name!r}",
                    field="name",
                ) from None
            raise
