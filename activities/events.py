"""The event lifecycle's and cancellation's activities: thin calls into the adapters.

Every one is idempotent: a transition re-applied finds the status it set (or is refused with
INVALID_STATE, which the workflow treats as the answer), a refund is keyed by the booking's
checkout (``refund:<checkout id>``, the key the saga's compensation and cancelBooking use, so a
booking is refunded once whoever asks), and a booking already REFUNDED stays so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.checkout import business_errors, refund_key
from adapters.event_sales import EventRow, EventSales
from domain.model import BookingStatus, PaymentStatus
from domain.ports import BookingStore, Payments, SeatMapEvents
from workflows.contract import UPDATE_CANCEL, WORKFLOW_NAME, CancelRequest
from workflows.event_contract import EventSnapshot

# Open checkouts cancelled at once by one sweep; each cancel waits for the checkout's release.
CANCEL_CONCURRENCY = 20
CHECKOUTS_PER_SWEEP = 1000


@dataclass
class CommandInput:
    event_id: str
    command: str
    at: int  # the workflow's clock, epoch seconds: what "now" means for the rules
    reason: str | None = None


@dataclass
class CommandResult:
    event: EventSnapshot
    changed: bool


@dataclass
class SweepInput:
    event_id: str
    reason: str


@dataclass
class SweepResult:
    running: int  # open checkouts of the event the listing found
    cancelled: int  # of those, the ones this sweep cancelled (the others were paying or done)


@dataclass
class RefundPlanInput:
    event_id: str
    limit: int


@dataclass
class RefundPlan:
    checkout_ids: list[str] = field(default_factory=list)
    confirmed: int = 0  # every CONFIRMED booking of the event left, beyond this plan too


@dataclass
class RefundPage:
    event_id: str
    checkout_ids: list[str]


def snapshot(row: EventRow) -> EventSnapshot:
    return EventSnapshot(
        event_id=row.event_id,
        status=row.status,
        event_date=int(row.event_date.timestamp()),
        on_sale_at=int(row.on_sale_at.timestamp()) if row.on_sale_at else None,
        cancel_reason=row.cancel_reason,
    )


class EventActivities:
    def __init__(
        self,
        sales: EventSales,
        bookings: BookingStore,
        payments: Payments,
        seat_map: SeatMapEvents,
        temporal: Client,
    ) -> None:
        self._sales = sales
        self._bookings = bookings
        self._payments = payments
        self._seat_map = seat_map
        self._temporal = temporal

    @activity.defn(name="event_load")
    @business_errors
    def load(self, event_id: str) -> EventSnapshot | None:
        row = self._sales.get(event_id)
        return None if row is None else snapshot(row)

    @activity.defn(name="event_apply")
    @business_errors
    def apply(self, request: CommandInput) -> CommandResult:
        at = datetime.fromtimestamp(request.at, UTC)
        transition = self._sales.apply(request.event_id, request.command, at, request.reason)
        if transition.changed:
            # Cached seat maps and availableSeats responses are keyed by the event's version:
            # the bump makes every reader see the new status at once; subscribers hear it.
            self._seat_map.changed(request.event_id, [], f"status:{transition.after.status}")
        return CommandResult(snapshot(transition.after), transition.changed)

    @activity.defn(name="event_cancel_checkouts")
    async def cancel_checkouts(self, request: SweepInput) -> SweepResult:
        """Sends every running checkout of the event its cancel update. A checkout already
        paying refuses it (CHECKOUT_CLOSED); its confirm then fails on the cancelled event and
        it voids itself, so the workflow sweeps again until none is running."""
        query = (
            f"WorkflowType = '{WORKFLOW_NAME}' AND EventId = '{request.event_id}' "
            "AND ExecutionStatus = 'Running'"
        )
        ids: list[str] = []
        async for execution in self._temporal.list_workflows(query, limit=CHECKOUTS_PER_SWEEP):
            ids.append(execution.id)
        gate = asyncio.Semaphore(CANCEL_CONCURRENCY)

        async def cancel(wf_id: str) -> bool:
            async with gate:
                activity.heartbeat(wf_id)
                try:
                    await self._temporal.get_workflow_handle(wf_id).execute_update(
                        UPDATE_CANCEL, CancelRequest(f"event cancelled: {request.reason}")
                    )
                except (WorkflowUpdateFailedError, RPCError):
                    return False  # paying (CHECKOUT_CLOSED) or finished meanwhile
                return True

        results = await asyncio.gather(*(cancel(i) for i in ids))
        return SweepResult(running=len(ids), cancelled=sum(results))

    @activity.defn(name="event_plan_refunds")
    @business_errors
    def plan_refunds(self, request: RefundPlanInput) -> RefundPlan:
        items, confirmed = self._sales.to_refund(request.event_id, request.limit)
        return RefundPlan([i.checkout_id for i in items], confirmed)

    @activity.defn(name="event_refund_bookings")
    @business_errors
    def refund_bookings(self, page: RefundPage) -> int:
        """Refunds each booking of the page and marks it REFUNDED; answers how many of the
        page are REFUNDED now (a retry after a crash counts the ones it finds done)."""
        refunded = 0
        for checkout_id in page.checkout_ids:
            activity.heartbeat(checkout_id)
            if self._refund_one(checkout_id):
                refunded += 1
        return refunded

    def _refund_one(self, checkout_id: str) -> bool:
        booking = self._bookings.get_by_checkout(checkout_id)
        if booking is None:
            return False
        if booking.status == BookingStatus.CONFIRMED:
            intent = self._payments.find_by_checkout(checkout_id)
            if intent is not None and intent.status == PaymentStatus.AUTHORIZED:
                # Its checkout is between confirm and capture: refunding needs the capture
                # first. Retried (with backoff) until the saga has captured or given up.
                raise RuntimeError(f"checkout {checkout_id} is still capturing its payment")
            # Refund first, like cancelBooking: a crash before the mark leaves a refund the
            # retry replays (same key), never a refunded booking that was not paid back.
            if intent is not None and intent.status == PaymentStatus.CAPTURED:
                self._payments.refund(intent.id, refund_key(checkout_id))
            booking = self._bookings.mark_refunded(checkout_id) or booking
            self._seat_map.changed(booking.event_id, list(booking.seat_ids), "refunded")
        return booking.status == BookingStatus.REFUNDED

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load,
            self.apply,
            self.cancel_checkouts,
            self.plan_refunds,
            self.refund_bookings,
        ]
