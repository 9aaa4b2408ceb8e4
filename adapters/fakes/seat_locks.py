"""In-memory ``SeatLocks`` with the DynamoDB adapter's semantics, for fast workflow tests.

Both are held to the same contract by ``tests/integration/test_seat_locks_contract.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from adapters.seat_locks import (
    check_seat_input,
    check_ttl,
    held_by_other,
    lock_problems,
    raise_lock_problems,
)
from domain.errors import DomainError, ErrorCode
from domain.model import AcquireResult, SeatLock


class InMemorySeatLocks:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._locks: dict[tuple[str, str], SeatLock] = {}
        # One lock makes every call atomic, which the DynamoDB adapter only approximates
        # per seat; the observable outcomes of uncontended calls are identical.
        self._mutex = threading.Lock()

    def _now(self, now: int | None) -> int:
        return int(self._clock()) if now is None else int(now)

    def _held_by_other(self, event_id: str, seat: str, lock_id: str, now: int) -> bool:
        lock = self._locks.get((event_id, seat))
        return lock is not None and held_by_other(lock, lock_id, now)

    def acquire(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        user_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> AcquireResult:
        seats = check_seat_input(event_id, seat_ids, lock_id)
        check_ttl(ttl_seconds)
        if not isinstance(user_id, str) or not user_id:
            raise DomainError(ErrorCode.INVALID_INPUT, "user_id must be a non-empty string")
        at = self._now(now)
        with self._mutex:
            taken = tuple(s for s in seats if self._held_by_other(event_id, s, lock_id, at))
            if taken:
                return AcquireResult(acquired=False, taken=taken)
            expires_at = at + ttl_seconds
            fresh = []
            for seat in seats:
                previous = self._locks.get((event_id, seat))
                if previous is None or previous.lock_id != lock_id or previous.expires_at < at:
                    fresh.append(seat)
                self._locks[(event_id, seat)] = SeatLock(
                    event_id, seat, user_id, lock_id, expires_at, at
                )
        return AcquireResult(acquired=True, taken=(), expires_at=expires_at, fresh=tuple(fresh))

    def extend(
        self,
        event_id: str,
        seat_ids: Sequence[str],
        lock_id: str,
        ttl_seconds: int,
        now: int | None = None,
    ) -> int:
        seats = check_seat_input(event_id, seat_ids, lock_id)
        check_ttl(ttl_seconds)
        at = self._now(now)
        with self._mutex:
            raise_lock_problems(*lock_problems(seats, self._found(event_id, seats), lock_id, at))
            expires_at = at + ttl_seconds
            for seat in seats:
                old = self._locks[(event_id, seat)]
                self._locks[(event_id, seat)] = SeatLock(
                    event_id, seat, old.user_id, lock_id, expires_at, old.created_at
                )
        return expires_at

    def release(self, event_id: str, seat_ids: Sequence[str], lock_id: str) -> int:
        seats = check_seat_input(event_id, seat_ids, lock_id, allow_empty=True)
        deleted = 0
        with self._mutex:
            for seat in seats:
                lock = self._locks.get((event_id, seat))
                if lock is not None and lock.lock_id == lock_id:
                    del self._locks[(event_id, seat)]
                    deleted += 1
        return deleted

    def validate(
        self, event_id: str, seat_ids: Sequence[str], lock_id: str, now: int | None = None
    ) -> None:
        seats = check_seat_input(event_id, seat_ids, lock_id)
        at = self._now(now)
        with self._mutex:
            found = self._found(event_id, seats)
        raise_lock_problems(*lock_problems(seats, found, lock_id, at))

    def live_locks(self, event_id: str, now: int | None = None) -> list[SeatLock]:
        check_seat_input(event_id, [], allow_empty=True)
        at = self._now(now)
        with self._mutex:
            live = [
                lk for (e, _), lk in self._locks.items() if e == event_id and lk.expires_at >= at
            ]
        return sorted(live, key=lambda lk: lk.seat_id)

    def held_seat_ids(self, event_id: str, now: int | None = None) -> set[str]:
        return {lock.seat_id for lock in self.live_locks(event_id, now)}

    def _found(self, event_id: str, seats: Sequence[str]) -> dict[str, SeatLock]:
        return {s: self._locks[(event_id, s)] for s in seats if (event_id, s) in self._locks}
