"""Server processes freeze their start-up heap and collect the young generation less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mmo_platform.gc_tuning import YOUNG_GENERATION_THRESHOLD, _observe_pause, gc_tune_for_server


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    hooks = list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = hooks


def test_gc_tuning_freezes_the_heap_and_raises_the_young_threshold(restored_gc: None) -> None:
    older = gc.get_threshold()[1:]

    gc_tune_for_server()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *older)


def _pauses_counted(generation: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("mmo_gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


def test_every_collection_pause_is_observed_by_generation(restored_gc: None) -> None:
    gc_tune_for_server()
    before = [_pauses_counted(str(generation)) for generation in range(3)]

    gc.collect(0)
    gc.collect(2)

    after = [_pauses_counted(str(generation)) for generation in range(3)]
    assert after[0] >= before[0] + 1
    assert after[2] == before[2] + 1


def test_installing_twice_hooks_the_collector_once(restored_gc: None) -> None:
    gc_tune_for_server()
    gc_tune_for_server()

    assert gc.callbacks.count(_observe_pause) == 1
