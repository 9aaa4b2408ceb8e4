"""What clients of the event lifecycle and cancellation workflows share with them: names, ids and
message dataclasses (instants as epoch seconds, like ``workflows/contract.py``)."""

from __future__ import annotations

from dataclasses import dataclass

LIFECYCLE_WORKFLOW = "EventLifecycleWorkflow"
CANCELLATION_WORKFLOW = "EventCancellationWorkflow"

UPDATE_PUBLISH = "publish"
UPDATE_PAUSE = "pause"
UPDATE_RESUME = "resume"
UPDATE_CANCEL_EVENT = "cancel_event"
# Another writer changed the event's dates (updateEvent): reload them and re-arm the timers.
SIGNAL_REFRESH = "refresh"
QUERY_EVENT = "event"
QUERY_PROGRESS = "progress"
MEMO_PROGRESS = "progress"  # the cancellation's progress, readable without a worker

# The lifecycle's commands, as the activity that carries them out names them.
COMMANDS = frozenset({"publish", "pause", "resume", "cancel", "open_sale", "complete"})


def lifecycle_id(event_id: str) -> str:
    return f"event-{event_id}"


def cancellation_id(event_id: str) -> str:
    return f"event-cancellation-{event_id}"


@dataclass
class EventSnapshot:
    """The event's row as the lifecycle needs it."""

    event_id: str
    status: str  # domain.model.EventStatus value
    event_date: int
    on_sale_at: int | None = None
    cancel_reason: str | None = None


@dataclass
class LifecycleInput:
    event_id: str
    # The status the starter read, so the validators of the update that starts the workflow
    # can refuse at once, before the first load; the load then replaces it.
    status_hint: str | None = None


@dataclass
class EventCommand:
    reason: str = ""  # cancel only


@dataclass
class CancellationInput:
    event_id: str
    reason: str
    page_size: int = 50  # bookings per refund activity
    parallel: int = 4  # refund activities at once
    # Carried over continue-as-new:
    checkouts_done: bool = False
    checkouts_cancelled: int = 0
    refunded: int = 0


@dataclass
class CancellationProgress:
    event_id: str
    reason: str
    to_refund: int = 0  # confirmed bookings found to refund (refunded ones included)
    refunded: int = 0
    checkouts_cancelled: int = 0
    phase: str = "checkouts"  # checkouts, refunds, done
    done: bool = False
