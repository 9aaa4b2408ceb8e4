"""Plain dataclasses of the domain. No ORM, no framework: adapters map storage to these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class EventStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"  # published; the sale opens at ``on_sale_at``
    ON_SALE = "ON_SALE"
    PAUSED = "PAUSED"  # the organizer stopped new holds for a while
    SOLD_OUT = "SOLD_OUT"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class SeatType(StrEnum):
    REGULAR = "REGULAR"
    PREMIUM = "PREMIUM"
    VIP = "VIP"
    ACCESSIBLE = "ACCESSIBLE"


class SeatStatus(StrEnum):
    """Per-event inventory status (``event_seats.status``)."""

    AVAILABLE = "AVAILABLE"
    BOOKED = "BOOKED"
    BLOCKED = "BLOCKED"  # taken off sale by the organizer (house seats, a broken seat)


class Role(StrEnum):
    """What a user may do. Everyone is a BUYER; roles travel in the token."""

    BUYER = "BUYER"
    ORGANIZER = "ORGANIZER"  # lays out its own venues and runs its own events' sales
    ADMIN = "ADMIN"  # acts on any venue or event, grants roles


class BookingStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class PaymentStatus(StrEnum):
    """Stripe PaymentIntent-like lifecycle of the sandbox processor."""

    AUTHORIZED = "AUTHORIZED"  # funds held ("requires_capture")
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"  # authorization cancelled, nothing charged
    REFUNDED = "REFUNDED"
    DECLINED = "DECLINED"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class SeatLock:
    event_id: str
    seat_id: str
    user_id: str
    lock_id: str  # the holder token: the checkout id
    expires_at: int  # epoch seconds
    created_at: int


@dataclass(frozen=True)
class AcquireResult:
    """All-or-nothing outcome of holding a set of seats."""

    acquired: bool
    taken: tuple[str, ...] = ()  # seats someone else holds (empty when acquired)
    expires_at: int = 0
    fresh: tuple[str, ...] = ()  # seats this call locked that the holder did not hold before


@dataclass(frozen=True)
class PricedSeat:
    seat_id: str
    price: Decimal


@dataclass(frozen=True)
class Quote:
    event_id: str
    currency: str
    seats: tuple[PricedSeat, ...]
    total: Decimal


@dataclass(frozen=True)
class ConfirmRequest:
    checkout_id: str
    user_id: str
    event_id: str
    seat_ids: tuple[str, ...]
    total: Decimal
    currency: str
    payment_intent_id: str | None = None


@dataclass(frozen=True)
class Booking:
    id: str
    reference: str
    checkout_id: str
    user_id: str
    event_id: str
    seat_ids: tuple[str, ...]
    total: Decimal
    currency: str
    status: BookingStatus
    payment_intent_id: str | None
    created_at: datetime | None = None


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    amount: Decimal
    currency: str
    status: PaymentStatus
    token: str
    checkout_id: str | None = None
    failure_code: str | None = None
    history: tuple[str, ...] = field(default=())
