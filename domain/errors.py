"""Stable error codes: clients, workflows and operators match on these strings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # input
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_SEATS = "TOO_MANY_SEATS"
    DUPLICATE_SEATS = "DUPLICATE_SEATS"
    NOT_FOUND = "NOT_FOUND"
    EVENT_NOT_ON_SALE = "EVENT_NOT_ON_SALE"
    EVENT_ALREADY_TOOK_PLACE = "EVENT_ALREADY_TOOK_PLACE"
    # seats and locks
    SEATS_UNAVAILABLE = "SEATS_UNAVAILABLE"
    LOCK_INVALID = "LOCK_INVALID"
    LOCK_EXPIRED = "LOCK_EXPIRED"
    LOCK_CONTENTION = "LOCK_CONTENTION"
    EXTENSION_LIMIT = "EXTENSION_LIMIT"
    TICKET_LIMIT_REACHED = "TICKET_LIMIT_REACHED"  # the event's maxTicketsPerBuyer
    CHECKOUT_ALREADY_OPEN = "CHECKOUT_ALREADY_OPEN"  # one open checkout per buyer per event
    NOT_ADMITTED = "NOT_ADMITTED"  # the event's waiting room has not admitted this buyer now
    # payments
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    PAYMENT_TIMEOUT = "PAYMENT_TIMEOUT"
    CAPTURE_FAILED = "CAPTURE_FAILED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INVALID_PAYMENT_STATE = "INVALID_PAYMENT_STATE"
    # checkout lifecycle
    CHECKOUT_CLOSED = "CHECKOUT_CLOSED"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    CANCELLED = "CANCELLED"
    # organizers
    FORBIDDEN = "FORBIDDEN"  # not this user's venue or event, or not its role
    INVALID_STATE = "INVALID_STATE"  # e.g. publishing a cancelled event, cancelling twice
    # capacity
    TRY_AGAIN = "TRY_AGAIN"  # the service could not carry the request out now; it was not


# Codes that a retry cannot change; the saga fails fast on them. Everything else (and every
# exception that is not a DomainError) is a transport problem and is retried with backoff.
RETRYABLE_CODES = frozenset({ErrorCode.LOCK_CONTENTION, ErrorCode.PAYMENT_TIMEOUT})


class DomainError(Exception):
    """A business rule said no. ``details`` is JSON-serialisable (e.g. ``{"seat_ids": [...]}``)."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.details = details

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    def __repr__(self) -> str:
        return f"DomainError({self.code}, {self.message!r}, {self.details!r})"
