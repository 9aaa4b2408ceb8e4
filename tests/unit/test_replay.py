"""Recorded histories of every saga path replay against the current workflow code.

A change that would break running checkouts (nondeterminism) fails here. Until a release has
checkouts running there is nothing to protect: change the workflow and re-record them all with
``RECORD_HISTORIES=1 pytest tests/e2e/test_checkout_saga.py``. From the first release on, a
change that fails here gets a ``workflow.patched()`` marker instead, and the histories recorded
before it stay beside the new ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from adapters.temporal_converter import DATA_CONVERTER
from workflows.checkout import CheckoutWorkflow

ROOT = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = sorted(ROOT.glob("*.json"))


PATHS = {
    "confirmed",
    "hold_refused",
    "payment_declined",
    "capture_failed",
    "expired",
    "cancelled",
    "confirm_refused",
}


def test_every_path_has_a_recorded_history() -> None:
    assert {path.stem for path in HISTORIES} == PATHS


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(f"checkout-{path.stem}", path.read_text())
    result = await Replayer(
        workflows=[CheckoutWorkflow], data_converter=DATA_CONVERTER
    ).replay_workflow(history)
    assert result.replay_failure is None
