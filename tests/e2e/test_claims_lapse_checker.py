"""The checker's rule for claims (``audit.invariants.check_claims``): a pending claim whose
checkout never started lapses within the grace, which invariant 3 allows; a claim that would
outlive the grace without a running checkout is a violation."""

from __future__ import annotations

import time
import uuid
from typing import Any

from temporalio.client import Client

from adapters.seat_claims import PENDING_CLAIM_SECONDS, SeatClaimRecorder
from audit.invariants import check_claims
from config.settings import Settings


async def test_a_pending_claim_without_checkout_is_allowed_a_lasting_one_is_not(
    temporal_client: Client, redis_client: Any, settings: Settings
) -> None:
    event = str(uuid.uuid4())
    claims = SeatClaimRecorder(redis_client, settings.redis_prefix)
    now = int(time.time())
    claims.record(event, ["s1"], str(uuid.uuid4()), now + PENDING_CLAIM_SECONDS - 1)

    assert await check_claims(temporal_client, claims, [event], now) == []

    claims.record(event, ["s2"], str(uuid.uuid4()), now + PENDING_CLAIM_SECONDS + 60)
    violations = await check_claims(temporal_client, claims, [event], now)

    assert [(v.invariant, v.kind) for v in violations] == [(3, "claim_without_checkout")]
    assert "s2" in violations[0].detail
