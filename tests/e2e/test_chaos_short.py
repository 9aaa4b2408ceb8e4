"""A short `make chaos`: three scenarios, small sales, the real stack in processes of its own.

Each asserts what the full run asserts (every checkout terminal, no violation, no orphan
charge, the faults answered with retryable codes rather than dropped); the times are recorded
by ``make chaos`` in bench/results/chaos.json, not asserted here.
"""

from __future__ import annotations

from bench.chaos import run


async def test_worker_kill_moto_freeze_and_payment_faults_leave_every_checkout_terminal() -> None:
    outcomes = await run(
        ["worker_sigkill", "moto_frozen", "payment_processor_faults"], checkouts=15, outage=4.0
    )

    for outcome in outcomes:
        assert outcome.checkouts > 0, outcome
        assert outcome.terminal == outcome.checkouts, outcome
        assert outcome.invariant_violations == [], outcome
        assert outcome.orphan_charges == 0, outcome
        assert outcome.unanswered == 0, outcome
    moto = next(o for o in outcomes if o.name == "moto_frozen")
    assert moto.retryable_answers > 0  # the frozen DynamoDB was answered, not waited out
