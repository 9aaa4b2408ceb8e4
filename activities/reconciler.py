"""The reconciler's steps: find what a saga left inconsistent, and repair it once.

Every rule looks only at items older than the grace period (``ReconcileInput.grace_seconds``)
and skips any whose checkout workflow is still running ("live", asked of Temporal), so the
reconciler never races a saga: a live saga repairs its own state.

The rules, in the order a run applies them:
1. **A checkout stuck past its deadline**: a running checkout workflow older than its longest
   possible life (first-hold wait + the hold with every extension + the payment grace + the
   forward steps' bound: ``stuck_after_seconds``) is flagged. Still running
   ``terminate_after_seconds`` later, it is terminated; the rules below then compensate its
   payment and booking in the same run (its locks and claims lapse by their own expiry).
2. **A captured payment without a confirmed booking** is refunded.
3. **An authorization without a live checkout** (no confirmed booking, its checkout workflow
   not running) is voided.
4. **A confirmed booking whose payment is not captured** (voided, refunded, declined, missing
   or only authorized) is flagged, then: if the authorization is still valid (AUTHORIZED and
   younger than ``AUTHORIZATION_VALIDITY``) the payment is captured and the booking stands;
   otherwise, or if the capture fails, the booking is cancelled, its seats released (and
   announced to the seat map), and a still-held authorization voided. A booking whose payment
   was refunded is marked REFUNDED instead of CANCELLED.

Idempotent: every repair changes the state its rule looks for (a second run finds nothing),
and every payment call carries a key of its own per intent (``reconcile:<op>:<intent id>``): a
retried activity replays its call, and the processor's state machine refuses a second
transition whoever asks (a refund of a REFUNDED intent is a no-op).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adapters.reconciler import ReconcilerStore, UnpaidBooking
from domain.errors import DomainError
from domain.model import PaymentStatus
from domain.ports import BookingStore, Payments, SeatMapEvents
from workflows.contract import WORKFLOW_NAME, workflow_id

log = structlog.get_logger("reconciler")

# Card networks hold an authorization for about 7 days; past that a capture is not attempted.
AUTHORIZATION_VALIDITY = timedelta(days=7)


@dataclass
class ReconcileInput:
    grace_seconds: int = 120
    stuck_after_seconds: int = 1500
    terminate_after_seconds: int = 3600
    checkout_task_queue: str = "checkout"


@dataclass
class ReconcileResult:
    """Counts of one run (or one step of it); the same counts go to the worker's metrics."""

    stuck_flagged: int = 0
    stuck_terminated: int = 0
    refunded: int = 0
    voided: int = 0
    bookings_flagged: int = 0
    captured: int = 0
    bookings_cancelled: int = 0
    skipped_live: int = 0
    failed: int = 0

    def plus(self, other: ReconcileResult) -> ReconcileResult:
        return ReconcileResult(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def repairs(self) -> int:
        return (
            self.stuck_terminated
            + self.refunded
            + self.voided
            + self.captured
            + self.bookings_cancelled
        )


def intent_key(operation: str, intent_id: str) -> str:
    return f"reconcile:{operation}:{intent_id}"


def _count(result: ReconcileResult, name: str, rule: str) -> None:
    """One more ``name`` in the result, and in the worker's Prometheus metrics (the SDK's meter,
    exported with the worker's own metrics: ``reconciler_actions{rule, action}``)."""
    setattr(result, name, getattr(result, name) + 1)
    activity.metric_meter().create_counter(
        "reconciler_actions", "What the reconciler found and did, by rule and action"
    ).add(1, {"rule": rule, "action": name})


class ReconcilerActivities:
    def __init__(
        self,
        store: ReconcilerStore,
        payments: Payments,
        bookings: BookingStore,
        seat_map: SeatMapEvents,
        temporal: Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._payments = payments
        self._bookings = bookings
        self._seat_map = seat_map
        self._temporal = temporal
        self._clock = clock

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.reconcile_stuck_checkouts,
            self.refund_orphan_captures,
            self.void_orphan_authorizations,
            self.repair_unpaid_bookings,
        ]

    def _cutoff(self, grace_seconds: int) -> datetime:
        return datetime.fromtimestamp(self._clock() - grace_seconds, UTC)

    async def _live(self, checkout_id: str | None) -> bool:
        """Whether the checkout's workflow is running. Any answer but "not found" that is not
        a clear one raises: the step retries rather than repair what a saga may still own."""
        if checkout_id is None:
            return False
        try:
            described = await self._temporal.get_workflow_handle(
                workflow_id(checkout_id)
            ).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return described.status == WorkflowExecutionStatus.RUNNING

    @activity.defn(name="reconcile_stuck_checkouts")
    async def reconcile_stuck_checkouts(self, request: ReconcileInput) -> ReconcileResult:
        result = ReconcileResult()
        now = self._clock()
        query = (
            f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' "
            f"AND TaskQueue = '{request.checkout_task_queue}'"
        )
        async for execution in self._temporal.list_workflows(query):
            age = now - execution.start_time.timestamp()
            if age <= request.stuck_after_seconds:
                continue
            _count(result, "stuck_flagged", "stuck_checkout")
            log.warning("checkout stuck past its deadline", workflow_id=execution.id, age_s=age)
            if age > request.stuck_after_seconds + request.terminate_after_seconds:
                handle = self._temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
                try:
                    await handle.terminate(reason="reconciler: stuck past its deadline")
                except RPCError as exc:
                    if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it just closed
                        raise
                    continue
                _count(result, "stuck_terminated", "stuck_checkout")
        return result

    @activity.defn(name="refund_orphan_captures")
    async def refund_orphan_captures(self, request: ReconcileInput) -> ReconcileResult:
        result = ReconcileResult()
        cutoff = self._cutoff(request.grace_seconds)
        for intent in await asyncio.to_thread(self._store.captured_without_booking, cutoff):
            if await self._live(intent.checkout_id):
                _count(result, "skipped_live", "captured_without_booking")
                continue
            try:
                await asyncio.to_thread(
                    self._payments.refund, intent.id, intent_key("refund", intent.id)
                )
            except DomainError as exc:
                _count(result, "failed", "captured_without_booking")
                log.error("refund refused", intent_id=intent.id, error=exc.code)
                continue
            _count(result, "refunded", "captured_without_booking")
            log.warning("refunded a capture without a booking", intent_id=intent.id)
        return result

    @activity.defn(name="void_orphan_authorizations")
    async def void_orphan_authorizations(self, request: ReconcileInput) -> ReconcileResult:
        result = ReconcileResult()
        cutoff = self._cutoff(request.grace_seconds)
        for orphan in await asyncio.to_thread(self._store.authorized_without_booking, cutoff):
            if await self._live(orphan.checkout_id):
                _count(result, "skipped_live", "authorization_without_checkout")
                continue
            try:
                await asyncio.to_thread(
                    self._payments.void, orphan.intent_id, intent_key("void", orphan.intent_id)
                )
            except DomainError as exc:  # e.g. captured since the read: the next run sees it
                _count(result, "failed", "authorization_without_checkout")
                log.error("void refused", intent_id=orphan.intent_id, error=exc.code)
                continue
            _count(result, "voided", "authorization_without_checkout")
            log.warning(
                "voided an authorization without a live checkout", intent_id=orphan.intent_id
            )
        return result

    @activity.defn(name="repair_unpaid_bookings")
    async def repair_unpaid_bookings(self, request: ReconcileInput) -> ReconcileResult:
        result = ReconcileResult()
        cutoff = self._cutoff(request.grace_seconds)
        for booking in await asyncio.to_thread(self._store.confirmed_not_captured, cutoff):
            if await self._live(booking.checkout_id):
                _count(result, "skipped_live", "booking_not_captured")
                continue
            _count(result, "bookings_flagged", "booking_not_captured")
            log.warning(
                "confirmed booking without a captured payment",
                reference=booking.reference,
                payment_status=booking.payment_status,
            )
            if self._capturable(booking) and await self._capture(booking):
                _count(result, "captured", "booking_not_captured")
                continue
            await asyncio.to_thread(self._cancel, booking)
            _count(result, "bookings_cancelled", "booking_not_captured")
        return result

    def _capturable(self, booking: UnpaidBooking) -> bool:
        if booking.payment_status != PaymentStatus.AUTHORIZED or booking.authorized_at is None:
            return False
        now = datetime.fromtimestamp(self._clock(), UTC)
        return now - booking.authorized_at < AUTHORIZATION_VALIDITY

    async def _capture(self, booking: UnpaidBooking) -> bool:
        assert booking.intent_id is not None
        try:
            await asyncio.to_thread(
                self._payments.capture, booking.intent_id, intent_key("capture", booking.intent_id)
            )
        except DomainError as exc:  # capture failed: the booking is cancelled instead
            log.warning("capture refused", reference=booking.reference, error=exc.code)
            return False
        return True

    def _cancel(self, booking: UnpaidBooking) -> None:
        """The booking ends with its money: REFUNDED if refunded, else CANCELLED and a still-held
        authorization voided. Its seats go back on sale and the seat map hears of it."""
        refunded = booking.payment_status == PaymentStatus.REFUNDED
        release = self._bookings.mark_refunded if refunded else self._bookings.cancel
        released = release(booking.checkout_id)
        if released is not None:
            self._seat_map.changed(booking.event_id, list(released.seat_ids), "cancelled")
        if booking.intent_id is not None and booking.payment_status == PaymentStatus.AUTHORIZED:
            self._payments.void(booking.intent_id, intent_key("void", booking.intent_id))
