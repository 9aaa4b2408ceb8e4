"""SQLAlchemy 2 table models. Alembic migrations are generated from (and tested against) these."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Venue(Base):
    __tablename__ = "venues"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    # The organizer who laid it out; only they (or an ADMIN) may change it.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400))
    total_capacity: Mapped[int] = mapped_column(Integer)
    # The seat map's coordinate space: every seat's x, y lies in [0, width] x [0, height].
    width: Mapped[float] = mapped_column(Float, server_default="0")
    height: Mapped[float] = mapped_column(Float, server_default="0")
    created_at: Mapped[datetime] = _created()


class Seat(Base):
    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("venue_id", "section", "row", "number"),
        CheckConstraint("price_modifier > 0", name="positive_modifier"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(50))
    row: Mapped[str] = mapped_column(String(10))
    number: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20), server_default="REGULAR")
    price_modifier: Mapped[Decimal] = mapped_column(Numeric(6, 3), server_default="1.000")
    x: Mapped[float] = mapped_column(Float, server_default="0")
    y: Mapped[float] = mapped_column(Float, server_default="0")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_status_event_date", "status", "event_date"),
        CheckConstraint("base_price >= 0", name="non_negative_price"),
        CheckConstraint(
            "status IN ('DRAFT','SCHEDULED','ON_SALE','PAUSED','SOLD_OUT','CANCELLED','COMPLETED')",
            name="status",
        ),
        CheckConstraint(
            "max_tickets_per_buyer IS NULL OR max_tickets_per_buyer > 0",
            name="positive_ticket_limit",
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    organizer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), server_default="DRAFT")
    base_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    max_capacity: Mapped[int] = mapped_column(Integer)
    # When a published event's sale opens (SCHEDULED until then); None opens it at publishing.
    on_sale_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Seats one buyer may hold and own at once for this event; None is no limit.
    max_tickets_per_buyer: Mapped[int | None] = mapped_column(Integer)
    # The organizer turned the waiting room on (it is always on when on_sale_at is set):
    # holds then need an admission from the room (domain/waiting_room.py).
    waiting_room: Mapped[bool] = mapped_column(Boolean, server_default=false())
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class EventSeat(Base):
    """Per-event inventory. Availability is derived from these rows, never counted down."""

    __tablename__ = "event_seats"
    __table_args__ = (
        # the seat map query: AVAILABLE seats of one event
        Index("ix_event_seats_event_id_status", "event_id", "status"),
        CheckConstraint("status IN ('AVAILABLE','BOOKED','BLOCKED')", name="status"),
        CheckConstraint(
            "(status = 'BOOKED') = (booking_id IS NOT NULL)", name="booked_has_booking"
        ),
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    seat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("seats.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), server_default="AVAILABLE")
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))
    # Why an organizer took the seat off sale (house seats, a sponsor, a broken seat).
    block_reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{BUYER}")
    created_at: Mapped[datetime] = _created()


class BookingRow(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_user_id_created_at", "user_id", "created_at"),
        # an event's bookings by status: its sales report, its cancellation's refunds
        Index("ix_bookings_event_id_status", "event_id", "status"),
        # the platform's latest orders: the waiting room's first estimate of a turn's seats
        Index("ix_bookings_created_at", "created_at"),
        CheckConstraint("total_price >= 0", name="non_negative_total"),
        CheckConstraint("status IN ('PENDING','CONFIRMED','CANCELLED','REFUNDED')", name="status"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    checkout_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    total_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    payment_intent_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class BookingSeat(Base):
    """One seat of a booking. ``released_at`` is set when the booking is cancelled/refunded.

    The partial unique index below is invariant 1 in the database itself: at most one
    unreleased booking row per (event, seat), whatever the application code does.
    """

    __tablename__ = "booking_seats"
    __table_args__ = (
        Index(
            "uq_booking_seats_active_event_seat",
            "event_id",
            "seat_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
    )
    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    seat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("seats.id"), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    price: Mapped[Decimal] = mapped_column(MONEY)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentIntentRow(Base):
    """The sandbox processor's own state (a real processor keeps this on its side)."""

    __tablename__ = "payment_intents"
    __table_args__ = (
        Index("ix_payment_intents_status", "status"),
        CheckConstraint("amount >= 0", name="non_negative_amount"),
        CheckConstraint(
            "status IN ('AUTHORIZED','CAPTURED','VOIDED','REFUNDED','DECLINED')", name="status"
        ),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PaymentOperation(Base):
    """Idempotency record: one row per key, with the parameters' fingerprint and the outcome."""

    __tablename__ = "payment_operations"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(20))
    params_hash: Mapped[str] = mapped_column(String(64))
    intent_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _created()


class EventStaffRow(Base):
    """Someone the event's organizer named to check tickets in at the door (any user)."""

    __tablename__ = "event_staff"
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _created()


class CheckIn(Base):
    """A ticket (one seat of a booking) admitted at the door.

    The primary key is the rule "admitted once": concurrent scans of one ticket race on it
    (``INSERT ... ON CONFLICT DO NOTHING``) and exactly one inserts. The foreign key to
    ``booking_seats`` makes a check-in of a seat its booking never had impossible.
    """

    __tablename__ = "check_ins"
    __table_args__ = (
        ForeignKeyConstraint(
            ["booking_id", "seat_id"],
            ["booking_seats.booking_id", "booking_seats.seat_id"],
            name="fk_check_ins_booking_seat",
            ondelete="CASCADE",
        ),
    )
    booking_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seat_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The sales report counts an event's check-ins: denormalized from the booking, indexed.
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    checked_in_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    checked_in_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
