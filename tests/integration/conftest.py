"""Seat-claim fixtures shared by the claims' tests and their per-process copy's."""

from __future__ import annotations

import uuid

import pytest
import redis

from adapters.seat_claims import SeatClaimRecorder
from config.settings import Settings


@pytest.fixture
def recorder(settings: Settings, redis_client: redis.Redis) -> SeatClaimRecorder:
    return SeatClaimRecorder(redis_client, settings.redis_prefix)


@pytest.fixture
def event() -> str:
    """An event id of its own: claims live in one hash per event."""
    return f"ev-{uuid.uuid4()}"
