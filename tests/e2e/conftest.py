"""End-to-end fixtures: a real worker (in this process) with the real adapters."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from activities.checkout import CheckoutActivities
from adapters.bookings import PostgresBookingStore
from adapters.checkout_client import CheckoutClient
from adapters.inventory import PostgresCatalog
from adapters.payments import TOKEN_APPROVE, SandboxPayments
from adapters.seat_locks import DynamoSeatLocks
from config.settings import Settings
from worker.bootstrap import build_worker


@dataclass
class RecordingSeatMap:
    """Records seat-map notifications so tests can assert the saga sends them."""

    calls: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def changed(self, event_id: str, seat_ids: Sequence[str], kind: str) -> None:
        with self._lock:
            self.calls.append((event_id, tuple(seat_ids), kind))


@dataclass
class Backends:
    locks: DynamoSeatLocks
    catalog: PostgresCatalog
    bookings: PostgresBookingStore
    payments: SandboxPayments
    seat_map: RecordingSeatMap

    def activities(self) -> CheckoutActivities:
        return CheckoutActivities(
            self.locks, self.catalog, self.bookings, self.payments, self.seat_map, TOKEN_APPROVE
        )


@pytest.fixture(scope="session")
def backends(engine: Engine, dynamodb: Any, settings: Settings) -> Backends:
    return Backends(
        locks=DynamoSeatLocks(dynamodb, settings.seat_lock_table),
        catalog=PostgresCatalog(engine),
        bookings=PostgresBookingStore(engine, lock_timeout_ms=settings.db_lock_timeout_ms),
        payments=SandboxPayments(engine),
        seat_map=RecordingSeatMap(),
    )


@pytest.fixture(scope="session")
async def worker(
    settings: Settings, temporal_client: Client, backends: Backends
) -> AsyncIterator[None]:
    async with build_worker(settings, temporal_client, backends.activities()):
        yield


@pytest.fixture(scope="session")
def checkouts(temporal_client: Client, settings: Settings, worker: None) -> CheckoutClient:
    return CheckoutClient(temporal_client, settings.task_queue)


@pytest.fixture(scope="session")
def short_checkouts(temporal_client: Client, settings: Settings, worker: None) -> CheckoutClient:
    """Holds that expire after 2 s, for the expiry paths."""
    return CheckoutClient(temporal_client, settings.task_queue, hold_seconds=2)
