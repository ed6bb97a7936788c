"""Server processes freeze their start-up heap and collect the young generation less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mmo_platform.gc_tuning import YOUNG_GENERATION_THRESHOLD, gc_tune_for_server


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_gc_tuning_freezes_the_heap_and_raises_the_young_threshold(restored_gc: None) -> None:
    older = gc.get_threshold()[1:]

    gc_tune_for_server()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *older)
