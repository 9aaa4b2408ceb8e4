"""A short `make chaos`: three scenarios, small sales, the real stack in processes of its own.

Each asserts what the full run asserts (every checkout started is terminal, no violation, no
orphan charge) and that every buyer got a clear answer (none gave up on retryable ones); the
times are recorded by ``make chaos`` in bench/results/chaos.json, not asserted here.
"""

from __future__ import annotations

from bench.chaos import run

BUYERS = 15


async def test_a_killed_compensation_a_frozen_redis_and_a_lost_postgres_end_every_checkout() -> (
    None
):
    outcomes = await run(
        ["worker_sigkill_compensation", "redis_frozen", "postgres_unreachable"],
        checkouts=BUYERS,
        outage=4.0,
    )

    assert [o.name for o in outcomes] == [
        "worker_sigkill_compensation",
        "redis_frozen",
        "postgres_unreachable",
    ]
    for outcome in outcomes:
        assert outcome.checkouts >= BUYERS, outcome  # one seat each: every buyer holds
        assert outcome.terminal == outcome.checkouts, outcome
        assert outcome.invariant_violations == [], outcome
        assert outcome.orphan_charges == 0, outcome
        assert outcome.gave_up == 0, outcome
