"""Ticket tokens: what a buyer shows at the door, signed so that nobody can make one up.

A ticket is one seat of a booking. Its token is a compact JWT (HS256) naming the booking, the
seat and the event. It proves only that *we* issued it; whether it still admits someone
(booking still CONFIRMED, not scanned before) is decided at check-in against PostgreSQL, so a
refund needs no revocation list and tokens carry no expiry.

Tickets and sign-in tokens never stand in for each other:
- the signing key is derived from ``JWT_SECRET`` with HKDF-SHA256 (RFC 5869) under its own
  ``info`` label, so a signature valid for one kind is invalid for the other;
- a ticket carries ``aud: "tkt"`` and the header ``typ: "TKT"``: PyJWT refuses a token with an
  audience where none is expected (sign-in) and a ticket must have this one.

The token is deterministic (no issue time): the same seat always shows the same QR code. UUIDs
travel as 22 base64url characters instead of 36, so a token is ~210 characters and its QR code
(error correction M) is version 11, 61 modules a side: easy for a phone camera.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from enum import StrEnum

import jwt

from domain.model import BookingStatus, EventStatus

AUDIENCE = "tkt"
TOKEN_TYPE = "TKT"
ALGORITHM = "HS256"
# Anything longer is not one of ours; refuse it before parsing it.
MAX_TOKEN_LENGTH = 512

_HKDF_SALT = b"ticket-booking-saga"
_HKDF_INFO = b"ticket-token-v1"


def derive_key(secret: str, info: bytes = _HKDF_INFO) -> bytes:
    """HKDF-SHA256 (RFC 5869), one 32-byte block: extract, then expand with ``info``."""
    prk = hmac.new(_HKDF_SALT, secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _short(value: str) -> str:
    return base64.urlsafe_b64encode(uuid.UUID(value).bytes).rstrip(b"=").decode()


def _long(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 22:
        return None
    try:
        return str(uuid.UUID(bytes=base64.urlsafe_b64decode(value + "==")))
    except ValueError:
        return None


class CheckInStatus(StrEnum):
    ADMITTED = "ADMITTED"
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    INVALID = "INVALID"


def ticket_refusal(booking_status: str, seat_released: bool, event_status: str) -> str | None:
    """Why a genuine ticket admits nobody, or None when it admits its holder.

    The one rule for both "My tickets" (``valid``) and the door (check-in). An event being
    cancelled refunds its bookings in pages; its tickets stop working at once all the same.
    """
    if event_status == EventStatus.CANCELLED.value:
        return "the event is cancelled"
    if booking_status != BookingStatus.CONFIRMED.value:
        return f"the booking is {booking_status.lower()}"
    if seat_released:
        return "the seat was released from its booking"
    return None


@dataclass(frozen=True)
class TicketClaims:
    booking_id: str
    seat_id: str
    event_id: str


class TicketSigner:
    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret)

    def issue(self, claims: TicketClaims) -> str:
        payload = {
            "aud": AUDIENCE,
            "b": _short(claims.booking_id),
            "s": _short(claims.seat_id),
            "e": _short(claims.event_id),
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def read(self, token: str) -> TicketClaims | None:
        """The claims of a ticket we signed; None for anything else (forged, altered,
        truncated, a sign-in token, garbage)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
            return None
        try:
            decoded = jwt.decode_complete(
                token.strip(),
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["aud"]},
            )
        except jwt.PyJWTError:
            return None
        if decoded["header"].get("typ") != TOKEN_TYPE:
            return None
        payload = decoded["payload"]
        booking, seat, event = (_long(payload.get(k)) for k in ("b", "s", "e"))
        if booking is None or seat is None or event is None:
            return None
        return TicketClaims(booking, seat, event)
