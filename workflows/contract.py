"""What clients of the checkout workflow share with it: names, ids and message dataclasses.

The API (and the benchmark) import these instead of repeating strings. Every message is one
dataclass so fields can be added later without breaking callers or recorded histories. Amounts
travel as strings of Decimals; instants as epoch seconds (ints), never floats of money or time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.common import SearchAttributeKey

WORKFLOW_NAME = "CheckoutWorkflow"
DEFAULT_TASK_QUEUE = "checkout"

UPDATE_HOLD_SEATS = "hold_seats"
UPDATE_SUBMIT_PAYMENT = "submit_payment"
UPDATE_EXTEND_HOLD = "extend_hold"
UPDATE_CANCEL = "cancel"
QUERY_STATE = "state"

SA_STATUS = SearchAttributeKey.for_keyword("CheckoutStatus")
SA_EVENT_ID = SearchAttributeKey.for_keyword("EventId")
SA_USER_ID = SearchAttributeKey.for_keyword("UserId")

WORKFLOW_ID_PREFIX = "checkout-"


def workflow_id(checkout_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{checkout_id}"


@dataclass
class CheckoutInput:
    checkout_id: str
    user_id: str
    event_id: str
    hold_seconds: int = 300
    max_extensions: int = 2
    max_seats: int = 10
    # After the hold expires, how long payment may still run before the checkout must be
    # terminal (invariant 4's deadline is expires_at + this).
    payment_grace_seconds: int = 120


@dataclass
class HoldSeatsRequest:
    seat_ids: list[str]


@dataclass
class HoldSeatsResult:
    held: bool
    seat_ids: list[str] = field(default_factory=list)  # everything this checkout holds now
    taken: list[str] = field(default_factory=list)  # requested seats someone else has
    expires_at: int | None = None
    failure_reason: str | None = None  # an ErrorCode when held is False
    message: str = ""


@dataclass
class SubmitPaymentRequest:
    payment_token: str | None = None
    # When given, must equal the held seats exactly (the seed's createBooking sends them).
    seat_ids: list[str] | None = None
    # When given, the payer, who must own the checkout. The workflow checks it in the update's
    # validator, so the API needs no query round trip to Temporal before a payment.
    user_id: str | None = None


@dataclass
class ExtendHoldRequest:
    pass


@dataclass
class CancelRequest:
    reason: str = "buyer cancelled"


@dataclass
class CheckoutState:
    checkout_id: str
    user_id: str
    event_id: str
    status: str  # domain.checkout.CheckoutStatus value
    seat_ids: list[str] = field(default_factory=list)
    expires_at: int | None = None
    deadline: int | None = None
    extensions_used: int = 0
    amount: str | None = None
    currency: str | None = None
    payment_intent_id: str | None = None
    booking_id: str | None = None
    booking_reference: str | None = None
    failure_reason: str | None = None
    failure_message: str | None = None
    history: list[str] = field(default_factory=list)  # statuses in the order they happened
