"""The checkout saga: one durable workflow per checkout.

    hold seats ──(nothing held)──► FAILED(the hold's refusal, e.g. SEATS_UNAVAILABLE),
        │                             or EXPIRED when no hold was answered in time
        │  wait for payment, cancel, or the hold's expiry (a workflow timer) ──► CANCELLED, EXPIRED
        ▼
    authorize ──► confirm in PostgreSQL ──► capture ──► release locks ──► CONFIRMED
        │ any failure: compensations in reverse (cancel booking, void/refund, release) ──► FAILED

Each compensation is registered *before* the step it undoes (a step that timed out may still
have happened) and is idempotent, so running it for a step that never happened is harmless.
Every step runs as a local activity (no activity task, no extra workflow task). Compensations
retry until they succeed: each first gets a few quick local attempts, and one that still fails
goes on as a regular activity, which the Temporal UI shows as pending with its last error, never
swallowed.

Until a release has checkouts running, this file carries no version markers: a change to it
re-records ``tests/histories`` instead (see ``tests/unit/test_replay.py``).

Deterministic: no I/O, clock or randomness except through ``workflow.*``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimeout

with workflow.unsafe.imports_passed_through():
    from activities.checkout import (
        AuthorizeInput,
        CaptureInput,
        CheckoutActivities,
        CheckoutRef,
        ConfirmInput,
        ExtendInput,
        HoldInput,
        HoldOutput,
        ReleaseInput,
    )
    from domain.checkout import CheckoutStatus, is_terminal, transition
    from domain.errors import DomainError, ErrorCode
    from domain.validation import validate_seat_selection
    from workflows.contract import (
        QUERY_STATE,
        SA_STATUS,
        UPDATE_CANCEL,
        UPDATE_EXTEND_HOLD,
        UPDATE_HOLD_SEATS,
        UPDATE_SUBMIT_PAYMENT,
        WORKFLOW_NAME,
        CancelRequest,
        CheckoutInput,
        CheckoutState,
        ExtendHoldRequest,
        HoldSeatsRequest,
        HoldSeatsResult,
        SubmitPaymentRequest,
    )

S = CheckoutStatus

# Forward steps: transport failures retry with backoff, but only for a bounded time, so a
# checkout always ends (invariant 4); business refusals are non-retryable and fail at once.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=3),
)
STEP_TIMEOUT = timedelta(seconds=10)
STEP_DEADLINE = timedelta(seconds=60)
# The payment's forward steps (authorize, confirm, capture) together end this long before the
# checkout's deadline (the hold's expiry plus the payment grace): the compensations' time, so
# a checkout whose backends answer again is terminal by its deadline (invariant 4). No
# execution timeout stands in for this: it would cut a compensation that retries until done.
COMPENSATION_RESERVE = timedelta(seconds=30)
# A forward step is not started with less time than this left: it could not finish.
MIN_STEP_BUDGET = timedelta(seconds=1)
# Compensations: retried until done (no maximum attempts, no schedule-to-close).
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# A compensation is first tried locally, a few times (0.5 s, then 1 s apart):
# no activity task, no extra workflow task. One that still fails goes on as the regular
# activity above, which the Temporal UI shows as pending with its last error.
LOCAL_COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_attempts=3,
)
LOCAL_COMPENSATION_DEADLINE = timedelta(seconds=30)


# A failed step: an ActivityError for a regular activity; a local activity's failure may
# surface as the ApplicationError itself.
STEP_ERRORS = (ActivityError, ApplicationError, StepTimeout)

# Statuses the search attribute skips: the payment's local activities run back to back in one
# workflow task, so the Temporal UI would never show them, and each upsert costs a history
# event and a visibility write. The history, the current details and the query name them.
UNSHOWN_STEPS = frozenset({S.CONFIRMING, S.CAPTURING})


class SagaFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _failure_code(exc: BaseException) -> tuple[str, str]:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type:
            return cause.type, cause.message
        cause = cause.__cause__
    return "STEP_FAILED", str(exc)


def _reject(code: ErrorCode, message: str) -> ApplicationError:
    return ApplicationError(message, type=code.value, non_retryable=True)


@workflow.defn(name=WORKFLOW_NAME)
class CheckoutWorkflow:
    @workflow.init
    def __init__(self, input: CheckoutInput) -> None:
        self._input = input
        self._status = S.OPEN
        self._history: list[str] = [S.OPEN.value]
        self._seat_ids: list[str] = []
        self._touched: set[str] = set()  # every seat we ever tried to lock (release is holder-safe)
        self._prices: dict[str, str] = {}
        self._currency: str | None = None
        self._expires_at: int | None = None
        self._expiry_version = 0
        self._extensions_used = 0
        self._first_hold_answered = False
        self._last_hold_failure = ErrorCode.SEATS_UNAVAILABLE.value
        self._payment: SubmitPaymentRequest | None = None
        self._cancel: CancelRequest | None = None
        self._payment_intent_id: str | None = None
        self._booking_id: str | None = None
        self._booking_reference: str | None = None
        self._failure_reason: str | None = None
        self._failure_message: str | None = None
        self._compensations: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        # Holds, extensions and the payment phase never interleave: concurrent hold updates
        # run one at a time, so each hold step counts the seats the previous ones took (the
        # per-buyer ticket limit relies on it).
        self._mutex = asyncio.Lock()

    # --- plumbing ---

    @workflow.run
    async def run(self, input: CheckoutInput) -> CheckoutState:
        # The search attributes (status OPEN, event, user) come with the start request.
        try:
            await self._saga()
        except SagaFailed as failure:
            await self._compensate()
            self._finish(S.FAILED, failure.code, failure.message)
        # Updates waiting for the outcome (submit_payment, cancel) answer before we close.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    def _set_status(self, status: CheckoutStatus) -> None:
        self._status = transition(self._status, status)
        self._history.append(status.value)
        if status not in UNSHOWN_STEPS:
            workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        seats = len(self._seat_ids)
        workflow.set_current_details(f"{status.value}: {seats} seat(s), amount {self._amount()}")

    def _finish(self, status: CheckoutStatus, code: str | None = None, message: str = "") -> None:
        if self._status != S.COMPENSATING and status != S.CONFIRMED:
            self._set_status(S.COMPENSATING)
        self._failure_reason = code
        self._failure_message = message or None
        self._set_status(status)

    def _on_failure(self, name: str, undo: Callable[[], Awaitable[Any]]) -> None:
        self._compensations.append((name, undo))

    async def _compensate(self) -> None:
        if self._status != S.COMPENSATING:
            self._set_status(S.COMPENSATING)
        for name, undo in reversed(self._compensations):
            # workflow.logger is silent on replay, so each compensation is logged once.
            workflow.logger.info("compensating: %s", name)
            await undo()
        self._compensations.clear()

    async def _activity(
        self,
        method: Callable[..., Any],
        arg: Any,
        summary: str,
        compensation: bool = False,
        until_done: bool = False,
        budget: timedelta = STEP_DEADLINE,
    ) -> Any:
        """Runs a step as a local activity. Forward steps retry for a bounded time (at most
        ``budget``); ``until_done`` steps until they succeed. A compensation gets a few local
        attempts, then goes on as a regular activity, retried until done and visible in the
        Temporal UI while it retries."""
        if compensation:
            try:
                return await workflow.execute_local_activity_method(
                    method,
                    arg,
                    start_to_close_timeout=STEP_TIMEOUT,
                    schedule_to_close_timeout=LOCAL_COMPENSATION_DEADLINE,
                    retry_policy=LOCAL_COMPENSATION_RETRY,
                    summary=summary,
                )
            except STEP_ERRORS:
                pass  # idempotent: the regular activity below may safely run it again
            return await workflow.execute_activity_method(
                method,
                arg,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=COMPENSATION_RETRY,
                summary=summary,
            )
        return await workflow.execute_local_activity_method(
            method,
            arg,
            start_to_close_timeout=STEP_TIMEOUT if until_done else min(STEP_TIMEOUT, budget),
            schedule_to_close_timeout=None if until_done else budget,
            retry_policy=COMPENSATION_RETRY if until_done else STEP_RETRY,
            summary=summary,
        )

    def _payment_step_budget(self) -> timedelta:
        """How long the payment's next forward step may take: STEP_DEADLINE, but never into
        the compensations' reserve before the checkout's deadline. Raises SagaFailed when
        there is no time left, so the saga compensates instead of starting a step."""
        assert self._expires_at is not None
        pay_by = (
            self._expires_at
            + self._input.payment_grace_seconds
            - COMPENSATION_RESERVE.total_seconds()
        )
        left = timedelta(seconds=pay_by - workflow.now().timestamp())
        if left < MIN_STEP_BUDGET:
            raise SagaFailed(ErrorCode.PAYMENT_TIMEOUT.value, "the payment did not finish in time")
        return min(STEP_DEADLINE, left)

    # --- the business steps ---

    async def _saga(self) -> None:
        hold = timedelta(seconds=self._input.hold_seconds)
        answered = await self._wait(lambda: self._first_hold_answered, hold)
        if self._cancel is not None:
            await self._cancelled()
            return
        if not self._seat_ids:
            if answered:
                raise SagaFailed(self._last_hold_failure, "none of the seats could be held")
            await self._compensate()
            self._finish(S.EXPIRED, ErrorCode.HOLD_EXPIRED.value, "no seats were held in time")
            return

        while self._payment is None:
            if self._cancel is not None:
                await self._cancelled()
                return
            assert self._expires_at is not None
            remaining = self._expires_at - workflow.now().timestamp()
            version = self._expiry_version
            if remaining <= 0:
                await self._mutex.acquire()  # an in-flight hold or extension finishes first
                self._mutex.release()
                if self._expiry_version != version or self._payment or self._cancel:
                    continue
                await self._compensate()
                self._finish(S.EXPIRED, ErrorCode.HOLD_EXPIRED.value, "the hold expired")
                return
            await self._wait(self._hold_changed(version), timedelta(seconds=remaining))

        async with self._mutex:
            await self._pay(self._payment)

    async def _cancelled(self) -> None:
        """Ends the checkout CANCELLED. A hold step still running (a cancel can arrive while
        the first hold waits on a slow backend: the API cancels a checkout whose first hold
        it answered TRY_AGAIN) finishes first, so the release covers the locks it took."""
        assert self._cancel is not None
        await self._mutex.acquire()
        self._mutex.release()
        await self._compensate()
        self._finish(S.CANCELLED, ErrorCode.CANCELLED.value, self._cancel.reason)

    async def _pay(self, payment: SubmitPaymentRequest) -> None:
        checkout_id = self._input.checkout_id
        acts = CheckoutActivities
        amount = self._amount()
        currency = self._currency or "USD"
        try:
            self._set_status(S.AUTHORIZING)
            self._on_failure("void or refund payment", self._void_or_refund)
            self._payment_intent_id = await self._activity(
                acts.authorize_payment,
                AuthorizeInput(checkout_id, str(amount), currency, payment.payment_token),
                f"Authorize {amount} {currency}",
                budget=self._payment_step_budget(),
            )

            self._set_status(S.CONFIRMING)
            self._on_failure("cancel booking", self._cancel_booking)
            confirmed = await self._activity(
                acts.confirm_booking,
                ConfirmInput(
                    checkout_id,
                    self._input.user_id,
                    self._input.event_id,
                    list(self._seat_ids),
                    str(amount),
                    currency,
                    self._payment_intent_id or "",
                ),
                f"Book {len(self._seat_ids)} seat(s) in PostgreSQL",
                budget=self._payment_step_budget(),
            )
            self._booking_id = confirmed.booking_id
            self._booking_reference = confirmed.reference

            self._set_status(S.CAPTURING)
            await self._activity(
                acts.capture_payment,
                CaptureInput(checkout_id, self._payment_intent_id or ""),
                f"Capture {amount} {currency}",
                budget=self._payment_step_budget(),
            )
        except STEP_ERRORS as exc:
            raise SagaFailed(*_failure_code(exc)) from exc

        # Post-step: the booking is final; the locks only have to go, retried until done.
        self._compensations.clear()
        await self._release_locks(compensation=False)
        self._finish(S.CONFIRMED)

    # --- compensations (and the release post-step) ---

    async def _release_locks(self, compensation: bool = True) -> None:
        await self._activity(
            CheckoutActivities.release_seats,
            ReleaseInput(self._input.checkout_id, self._input.event_id, sorted(self._touched)),
            f"Release {len(self._touched)} seat lock(s)",
            compensation=compensation,
            until_done=True,
        )

    async def _void_or_refund(self) -> None:
        await self._activity(
            CheckoutActivities.void_or_refund_payment,
            CheckoutRef(self._input.checkout_id, self._input.event_id),
            "Void the authorization or refund the capture",
            compensation=True,
        )

    async def _cancel_booking(self) -> None:
        self._booking_id = None
        self._booking_reference = None
        await self._activity(
            CheckoutActivities.cancel_booking,
            CheckoutRef(self._input.checkout_id, self._input.event_id),
            "Cancel the booking, seats back to AVAILABLE",
            compensation=True,
        )

    # --- updates and query ---

    @workflow.update(name=UPDATE_HOLD_SEATS)
    async def hold_seats(self, request: HoldSeatsRequest) -> HoldSeatsResult:
        async with self._mutex:
            if self._status not in (S.OPEN, S.HELD) or self._cancel or self._payment:
                return HoldSeatsResult(
                    held=False,
                    seat_ids=list(self._seat_ids),
                    failure_reason=ErrorCode.CHECKOUT_CLOSED.value,
                    message=f"checkout is {self._status.value}",
                )
            new = [s for s in request.seat_ids if s not in self._seat_ids]
            if not new:
                return self._hold_result(True, [], "already held")
            # The validator saw the seats held before the holds queued ahead of this one ran.
            if len(self._seat_ids) + len(new) > self._input.max_seats:
                result = self._hold_result(
                    False, [], f"at most {self._input.max_seats} seats per checkout"
                )
                result.failure_reason = ErrorCode.TOO_MANY_SEATS.value
                return result
            if not self._compensations:
                self._on_failure("release seat locks", self._release_locks)
            self._touched.update(new)
            outcome = await self._try_hold(new)
            self._first_hold_answered = True
            if not outcome.held:
                self._last_hold_failure = outcome.reason or ErrorCode.SEATS_UNAVAILABLE.value
                result = self._hold_result(False, outcome.taken, outcome.message or "seats taken")
                result.failure_reason = self._last_hold_failure
                return result
            self._seat_ids = sorted([*self._seat_ids, *new])
            self._prices.update(outcome.prices)
            self._currency = outcome.currency
            self._expires_at = outcome.expires_at
            self._expiry_version += 1
            self._set_status(S.HELD)
            return self._hold_result(True, [], f"{len(new)} seat(s) held")

    async def _try_hold(self, seat_ids: list[str]) -> HoldOutput:
        try:
            return await self._activity(
                CheckoutActivities.hold_seats,
                HoldInput(
                    self._input.checkout_id,
                    self._input.user_id,
                    self._input.event_id,
                    seat_ids,
                    self._input.hold_seconds,
                    self._expires_at,
                    # Exact: holds run one at a time under the mutex, so none is in flight.
                    already_held=len(self._seat_ids),
                ),
                f"Hold {len(seat_ids)} seat(s) in DynamoDB",
            )
        except STEP_ERRORS as exc:
            code, message = _failure_code(exc)
            return HoldOutput(held=False, reason=code, message=message)

    def _hold_result(self, held: bool, taken: list[str], message: str) -> HoldSeatsResult:
        return HoldSeatsResult(
            held=held,
            seat_ids=list(self._seat_ids),
            taken=sorted(taken),
            expires_at=self._expires_at,
            message=message,
        )

    @hold_seats.validator
    def _validate_hold(self, request: HoldSeatsRequest) -> None:
        if self._status not in (S.OPEN, S.HELD) or self._payment or self._cancel:
            raise _reject(ErrorCode.CHECKOUT_CLOSED, f"checkout is {self._status.value}")
        try:
            seats = validate_seat_selection(request.seat_ids, self._input.max_seats)
        except DomainError as exc:
            raise _reject(exc.code, exc.message) from None
        if len(set(seats) | set(self._seat_ids)) > self._input.max_seats:
            raise _reject(
                ErrorCode.TOO_MANY_SEATS, f"at most {self._input.max_seats} seats per checkout"
            )

    @workflow.update(name=UPDATE_SUBMIT_PAYMENT)
    async def submit_payment(self, request: SubmitPaymentRequest) -> CheckoutState:
        self._payment = request
        await workflow.wait_condition(lambda: is_terminal(self._status))
        return self.state()

    @submit_payment.validator
    def _validate_payment(self, request: SubmitPaymentRequest) -> None:
        # First, so that a stranger learns nothing about the checkout, not even its status.
        if request.user_id is not None and request.user_id != self._input.user_id:
            raise _reject(ErrorCode.NOT_FOUND, f"no checkout {self._input.checkout_id}")
        if self._status != S.HELD or self._payment or self._cancel:
            raise _reject(ErrorCode.CHECKOUT_CLOSED, f"checkout is {self._status.value}")
        if self._expires_at is not None and workflow.now().timestamp() >= self._expires_at:
            raise _reject(ErrorCode.LOCK_EXPIRED, "the hold has expired")
        if request.seat_ids is not None and sorted(set(request.seat_ids)) != self._seat_ids:
            raise _reject(ErrorCode.LOCK_INVALID, "the seats do not match this checkout's hold")

    @workflow.update(name=UPDATE_EXTEND_HOLD)
    async def extend_hold(self, request: ExtendHoldRequest) -> CheckoutState:
        async with self._mutex:
            if self._status != S.HELD or self._payment or self._cancel:
                raise _reject(ErrorCode.CHECKOUT_CLOSED, f"checkout is {self._status.value}")
            try:
                self._expires_at = await self._activity(
                    CheckoutActivities.extend_hold,
                    ExtendInput(
                        self._input.checkout_id,
                        self._input.event_id,
                        list(self._seat_ids),
                        self._input.hold_seconds,
                    ),
                    "Extend the seat locks",
                )
            except STEP_ERRORS as exc:
                code, message = _failure_code(exc)
                raise ApplicationError(message, type=code, non_retryable=True) from None
            self._extensions_used += 1
            self._expiry_version += 1
            self._set_status(S.HELD)
            return self.state()

    @extend_hold.validator
    def _validate_extend(self, request: ExtendHoldRequest) -> None:
        if self._status != S.HELD or self._payment or self._cancel:
            raise _reject(ErrorCode.CHECKOUT_CLOSED, f"checkout is {self._status.value}")
        if self._extensions_used >= self._input.max_extensions:
            raise _reject(
                ErrorCode.EXTENSION_LIMIT,
                f"a hold can be extended at most {self._input.max_extensions} times",
            )

    @workflow.update(name=UPDATE_CANCEL)
    async def cancel(self, request: CancelRequest) -> CheckoutState:
        self._cancel = request
        await workflow.wait_condition(lambda: is_terminal(self._status))
        return self.state()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._status not in (S.OPEN, S.HELD) or self._payment or self._cancel:
            raise _reject(
                ErrorCode.CHECKOUT_CLOSED, f"checkout is {self._status.value}: too late to cancel"
            )

    @workflow.query(name=QUERY_STATE)
    def state(self) -> CheckoutState:
        deadline = None
        if self._expires_at is not None:
            deadline = self._expires_at + self._input.payment_grace_seconds
        return CheckoutState(
            checkout_id=self._input.checkout_id,
            user_id=self._input.user_id,
            event_id=self._input.event_id,
            status=self._status.value,
            seat_ids=list(self._seat_ids),
            expires_at=self._expires_at,
            deadline=deadline,
            extensions_used=self._extensions_used,
            amount=str(self._amount()) if self._seat_ids else None,
            currency=self._currency,
            payment_intent_id=self._payment_intent_id,
            booking_id=self._booking_id,
            booking_reference=self._booking_reference,
            failure_reason=self._failure_reason,
            failure_message=self._failure_message,
            history=list(self._history),
        )

    # --- helpers ---

    def _hold_changed(self, version: int) -> Callable[[], bool]:
        return lambda: (
            self._payment is not None or self._cancel is not None or self._expiry_version != version
        )

    def _amount(self) -> Decimal:
        return sum((Decimal(self._prices[s]) for s in self._seat_ids), Decimal("0.00"))

    async def _wait(self, condition: Callable[[], bool], timeout: timedelta) -> bool:
        try:
            await workflow.wait_condition(
                lambda: condition() or self._cancel is not None, timeout=timeout
            )
            return True
        except TimeoutError:
            return False
