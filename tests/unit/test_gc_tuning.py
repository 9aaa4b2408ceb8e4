"""The long-running processes' collector settings (config/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from config.gc_tuning import tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_startup_objects_are_frozen_and_young_collections_are_rarer() -> None:
    tune_gc(50_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 50_000


@pytest.mark.usefixtures("restored_gc")
def test_zero_leaves_the_collector_as_it_was() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    tune_gc(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
