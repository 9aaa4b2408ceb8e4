"""Claim drops that failed while Redis was away, kept to be tried again once it answers.

A claim that is not dropped refuses its seats to every other checkout until it lapses (the
pending grace for a claim the saga never recorded, the hold's expiry for a recorded one), while
the seat map shows them free. A drop is idempotent (the script drops only the holder's own
claims), so trying it again later is always safe; one that keeps failing is given up at its
deadline, by when the claim has lapsed on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Kept at most this many: in an outage long enough to fill it the oldest are given up (they
# lapse at their expiry anyway), so a dead Redis never grows the process's memory.
MAX_PENDING = 10_000


@dataclass(frozen=True)
class Drop:
    event_id: str
    holder: str
    seat_ids: tuple[str, ...]
    give_up_at: float


class PendingDrops:
    """The failed drops, oldest first; thread-safe (the worker's recorder runs in threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._drops: dict[tuple[str, str], Drop] = {}

    def add(self, event_id: str, holder: str, seat_ids: tuple[str, ...], keep_s: float) -> None:
        key = (event_id, holder)
        with self._lock:
            earlier = self._drops.pop(key, None)
            seats = tuple(sorted(set(seat_ids) | set(earlier.seat_ids if earlier else ())))
            self._drops[key] = Drop(event_id, holder, seats, self._clock() + keep_s)
            while len(self._drops) > MAX_PENDING:
                self._drops.pop(next(iter(self._drops)))

    def due(self) -> list[Drop]:
        """Every drop still worth trying; the expired ones are forgotten."""
        now = self._clock()
        with self._lock:
            for key in [k for k, d in self._drops.items() if d.give_up_at < now]:
                del self._drops[key]
            return list(self._drops.values())

    def done(self, drop: Drop) -> None:
        with self._lock:
            if self._drops.get((drop.event_id, drop.holder)) is drop:
                del self._drops[(drop.event_id, drop.holder)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._drops)
