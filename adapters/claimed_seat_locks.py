"""The ``SeatLocks`` port that keeps the Redis seat claims in step with DynamoDB's decisions.

The saga's every grant, extension and release goes through here, so a claim is written after
DynamoDB granted the lock and dropped after it released it (see ``adapters/seat_claims.py`` for
why claims exist and what a stale one costs). Reads pass straight through, except the held
seats of an event (the seat map's, read by the API), which come from the grants recorded with
the claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.model import AcquireResult, SeatLock
from domain.ports import SeatLocks


class ClaimRecorder(Protocol):
    def record(
        self, event_id: str, seat_ids: Sequence[str], holder: str, expires_at: int
    ) -> None: ...

    def unclaim(self, event_id: str, seat_ids: Sequence[str], holder: str) -> None: ...

    def granted(self, event_id: str, now: int | None = None) -> set[str] | None: ...


class ClaimedSeatLocks:
    def __init__(self, locks: SeatLocks, claims: ClaimRecorder) -> None:
        self._locks = locks
        self._claims = claims

    def acquire(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        user_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> AcquireResult:
        result = self._locks.acquire(event_id, seat_ids, lock_id, user_id, ttl_seconds, now)
        if result.acquired:
            self._claims.record(event_id, seat_ids, lock_id, result.expires_at)
        return result

    def extend(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> int:
        expires_at = self._locks.extend(event_id, seat_ids, lock_id, ttl_seconds, now)
        self._claims.record(event_id, seat_ids, lock_id, expires_at)
        return expires_at

    def release(self, event_id: str, seat_ids: Sequence[str], lock_id: str) -> int:
        released = self._locks.release(event_id, seat_ids, lock_id)
        # Also when nothing was released: the claim may be all that is left of the hold.
        self._claims.unclaim(event_id, seat_ids, lock_id)
        return released

    def validate(
        self, event_id: str, seat_ids: Sequence[str], lock_id: str, now: int | None = None
    ) -> None:
        self._locks.validate(event_id, seat_ids, lock_id, now)

    def live_locks(self, event_id: str, now: int | None = None) -> list[SeatLock]:
        return self._locks.live_locks(event_id, now)

    def held_seat_ids(self, event_id: str, now: int | None = None) -> set[str]:
        # From the grants recorded beside the claims: one Redis read instead of a query of
        # the event's GSI, the costliest read of a seat-map rebuild. DynamoDB answers when
        # Redis cannot.
        granted = self._claims.granted(event_id, now)
        return self._locks.held_seat_ids(event_id, now) if granted is None else granted
