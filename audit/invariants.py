"""Checks DESIGN.md's five invariants against the real stores; returns every violation found.

Read-only: PostgreSQL (bookings, inventory), DynamoDB (live locks), the payment ledger and
Temporal (checkout states). Used by the end-to-end tests and by the benchmark after a sale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, text
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from adapters.seat_claims import PENDING_CLAIM_SECONDS
from domain.checkout import CheckoutStatus, is_terminal
from domain.ports import Payments, SeatLocks
from workflows.contract import QUERY_STATE, WORKFLOW_NAME, CheckoutState, workflow_id


@dataclass(frozen=True)
class Violation:
    invariant: int  # 1..5, as numbered in DESIGN.md
    kind: str
    detail: str


DOUBLE_BOOKED = text(
    """
    SELECT bs.event_id::text, bs.seat_id::text, count(*) AS n
    FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id
    WHERE bs.released_at IS NULL AND b.status = 'CONFIRMED'
      AND (CAST(:events AS uuid[]) IS NULL OR bs.event_id = ANY(CAST(:events AS uuid[])))
    GROUP BY bs.event_id, bs.seat_id HAVING count(*) > 1
    """
)

# The inventory row and the booking must agree: BOOKED <=> held by a CONFIRMED booking.
INVENTORY_MISMATCH = text(
    """
    SELECT es.event_id::text, es.seat_id::text, es.status, b.status
    FROM event_seats es
    LEFT JOIN bookings b ON b.id = es.booking_id
    LEFT JOIN booking_seats bs
      ON bs.booking_id = es.booking_id AND bs.seat_id = es.seat_id AND bs.released_at IS NULL
    WHERE (CAST(:events AS uuid[]) IS NULL OR es.event_id = ANY(CAST(:events AS uuid[])))
      AND (
        (es.status = 'BOOKED' AND (b.status IS DISTINCT FROM 'CONFIRMED' OR bs.seat_id IS NULL))
        OR (es.status = 'AVAILABLE' AND es.booking_id IS NOT NULL)
      )
    """
)

CONFIRMED_NOT_BOOKED = text(
    """
    SELECT bs.event_id::text, bs.seat_id::text, b.reference
    FROM booking_seats bs
    JOIN bookings b ON b.id = bs.booking_id
    JOIN event_seats es ON es.event_id = bs.event_id AND es.seat_id = bs.seat_id
    WHERE b.status = 'CONFIRMED' AND bs.released_at IS NULL
      AND (es.status <> 'BOOKED' OR es.booking_id IS DISTINCT FROM b.id)
      AND (CAST(:events AS uuid[]) IS NULL OR bs.event_id = ANY(CAST(:events AS uuid[])))
    """
)


def check_bookings(engine: Engine, event_ids: Sequence[str] | None) -> list[Violation]:
    """Invariant 1: no (event, seat) in two confirmed bookings; inventory agrees with bookings."""
    params = {"events": list(event_ids) if event_ids is not None else None}
    found: list[Violation] = []
    with engine.connect() as conn:
        for event_id, seat_id, n in conn.execute(DOUBLE_BOOKED, params):
            found.append(
                Violation(1, "double_booked", f"event {event_id} seat {seat_id}: {n} bookings")
            )
        for event_id, seat_id, status, booking_status in conn.execute(INVENTORY_MISMATCH, params):
            found.append(
                Violation(
                    1,
                    "inventory_mismatch",
                    f"event {event_id} seat {seat_id} is {status}, booking is {booking_status}",
                )
            )
        for event_id, seat_id, reference in conn.execute(CONFIRMED_NOT_BOOKED, params):
            found.append(
                Violation(
                    1,
                    "confirmed_seat_not_booked",
                    f"booking {reference}: event {event_id} seat {seat_id} not BOOKED for it",
                )
            )
    return found


def check_payments(payments: Payments) -> list[Violation]:
    """Invariant 2: every captured payment has a confirmed booking or was refunded."""
    return [
        Violation(
            2, "orphan_charge", f"{p.id}: {p.amount} {p.currency} of checkout {p.checkout_id}"
        )
        for p in payments.captured_without_booking()
    ]


async def _describe(client: Client, checkout_id: str) -> tuple[bool, CheckoutState | None]:
    """(exists, state); state is None for a checkout that is not running any more."""
    handle = client.get_workflow_handle(workflow_id(checkout_id))
    try:
        description = await handle.describe()
    except RPCError:
        return False, None
    if description.status != WorkflowExecutionStatus.RUNNING:
        return True, None
    return True, await handle.query(QUERY_STATE, result_type=CheckoutState)


class LiveClaims(Protocol):
    def live_claims(self, event_id: str, now: int | None = None) -> dict[str, str]: ...


async def check_locks(
    client: Client, locks: SeatLocks, event_ids: Iterable[str], now: int
) -> list[Violation]:
    """Invariant 3: a live lock belongs to a running, non-terminal checkout."""
    holders: dict[str, list[str]] = {}
    for event_id in event_ids:
        for lock in locks.live_locks(event_id, now=now):
            holders.setdefault(lock.lock_id, []).append(f"{event_id}#{lock.seat_id}")
    return await _held_by_open_checkouts(client, holders, "lock")


async def check_claims(
    client: Client,
    claims: LiveClaims,
    event_ids: Iterable[str],
    now: int,
    pending_grace_seconds: int = PENDING_CLAIM_SECONDS,
) -> list[Violation]:
    """Invariant 3 for the Redis seat claims (``adapters/seat_claims.py``): a claim still live
    after the pending grace belongs to a running checkout. One left by a finished checkout
    refuses its seats to every buyer until it lapses, while the seat map shows them free.

    Invariant 3 asks that everything held be released by its saga or expire. A pending claim
    (the API's, before the saga records the grant) lasts the grace at most, so one whose
    checkout never started (its API died, or Redis froze before its drop) or already ended
    expires within the rule and costs its seats that grace only: it is no violation. What
    outlives the grace is a recorded claim, which only a release drops."""
    holders: dict[str, list[str]] = {}
    for event_id in event_ids:
        for seat_id, holder in claims.live_claims(
            event_id, now=now + pending_grace_seconds
        ).items():
            holders.setdefault(holder, []).append(f"{event_id}#{seat_id}")
    return await _held_by_open_checkouts(client, holders, "claim")


async def _held_by_open_checkouts(
    client: Client, holders: dict[str, list[str]], what: str
) -> list[Violation]:
    found: list[Violation] = []
    for checkout_id, seats in holders.items():
        exists, state = await _describe(client, checkout_id)
        if not exists:
            found.append(Violation(3, f"{what}_without_checkout", f"{checkout_id} holds {seats}"))
        elif state is None or is_terminal(CheckoutStatus(state.status)):
            found.append(
                Violation(3, f"{what}_of_finished_checkout", f"{checkout_id} holds {seats}")
            )
    return found


async def check_checkouts(
    client: Client, event_ids: Iterable[str], now: int, open_grace_seconds: int = 600
) -> list[Violation]:
    """Invariant 4: every checkout past its deadline is terminal (and closed)."""
    found: list[Violation] = []
    for event_id in event_ids:
        query = (
            f"WorkflowType = '{WORKFLOW_NAME}' AND EventId = '{event_id}' "
            "AND ExecutionStatus = 'Running'"
        )
        async for execution in client.list_workflows(query):
            handle = client.get_workflow_handle(execution.id)
            try:
                state = await handle.query(QUERY_STATE, result_type=CheckoutState)
            except RPCError:
                continue  # closed between the listing and the query
            deadline = state.deadline
            if deadline is None:  # nothing held yet: the first-hold wait is bounded too
                deadline = int(execution.start_time.timestamp()) + open_grace_seconds
            if now > deadline:
                found.append(
                    Violation(
                        4,
                        "checkout_past_deadline",
                        f"{state.checkout_id} is {state.status}, deadline {deadline}",
                    )
                )
    return found


def check_seat_map(
    engine: Engine,
    locks: SeatLocks,
    event_ids: Iterable[str],
    cached_available: Callable[[str], set[str] | None],
    now: int,
) -> list[Violation]:
    """Invariant 5: the seat map clients read equals PostgreSQL minus live locks.

    Call it once writes have settled for longer than the cache's staleness bound.
    """
    found: list[Violation] = []
    for event_id in event_ids:
        cached = cached_available(event_id)
        if cached is None:
            continue  # nothing cached: readers go to the source
        with engine.connect() as conn:
            available = set(
                conn.execute(
                    text(
                        "SELECT seat_id::text FROM event_seats "
                        "WHERE event_id = :e AND status = 'AVAILABLE'"
                    ),
                    {"e": event_id},
                ).scalars()
            )
        held = {lock.seat_id for lock in locks.live_locks(event_id, now=now)}
        truth = available - held
        if cached != truth:
            extra, missing = sorted(cached - truth), sorted(truth - cached)
            found.append(
                Violation(
                    5,
                    "seat_map_divergence",
                    f"event {event_id}: shown but not available {extra[:5]}, "
                    f"available but not shown {missing[:5]}",
                )
            )
    return found


async def check_all(
    engine: Engine,
    locks: SeatLocks,
    payments: Payments,
    client: Client,
    event_ids: Sequence[str],
    cached_available: Callable[[str], set[str] | None] | None = None,
    now: int | None = None,
    claims: LiveClaims | None = None,
) -> list[Violation]:
    at = int(time.time()) if now is None else now
    found = check_bookings(engine, event_ids)
    found += check_payments(payments)
    found += await check_locks(client, locks, event_ids, at)
    if claims is not None:
        found += await check_claims(client, claims, event_ids, at)
    found += await check_checkouts(client, event_ids, at)
    if cached_available is not None:
        found += check_seat_map(engine, locks, event_ids, cached_available, at)
    return found
