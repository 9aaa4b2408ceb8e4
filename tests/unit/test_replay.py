"""Recorded histories of every saga path replay against the current workflow code.

A change that would break running checkouts (nondeterminism) fails here. Re-record with
``RECORD_HISTORIES=1 pytest tests/e2e/test_checkout_saga.py`` only for deliberate changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from adapters.temporal_converter import DATA_CONVERTER
from workflows.checkout import CheckoutWorkflow

ROOT = Path(__file__).resolve().parent.parent / "histories"
# Top level: recorded by the current code. Subfolders: recorded before a patch, whose
# checkouts may still be running when the patched code is deployed.
HISTORIES = sorted(ROOT.rglob("*.json"))


PATHS = {
    "confirmed",
    "hold_refused",
    "payment_declined",
    "capture_failed",
    "expired",
    "cancelled",
    "confirm_refused",
}


@pytest.mark.parametrize(
    "folder",
    [ROOT, ROOT / "before-coalesced-upserts", ROOT / "before-local-compensations"],
    ids=lambda p: p.name,
)
def test_every_path_has_a_recorded_history_in_both_step_modes(folder: Path) -> None:
    names = {path.stem for path in folder.glob("*.json")}
    assert PATHS <= names
    assert {f"{name}-local" for name in PATHS} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: str(p.relative_to(ROOT)))
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(f"checkout-{path.stem}", path.read_text())
    result = await Replayer(
        workflows=[CheckoutWorkflow], data_converter=DATA_CONVERTER
    ).replay_workflow(history)
    assert result.replay_failure is None
