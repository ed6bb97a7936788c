"""Server processes freeze their start-up heap and collect the young generation less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mmo_platform.gc_tuning import (
    YOUNG_GENERATION_THRESHOLD,
    _observe_pause,
    flush_gc_pauses,
    gc_tune_for_server,
)


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
    flush_gc_pauses()

    after = [_pauses_counted(str(generation)) for generation in range(3)]
    assert after[0] >= before[0] + 1
    assert after[2] == before[2] + 1


def test_installing_twice_hooks_the_collector_once(restored_gc: None) -> None:
    gc_tune_for_server()
    gc_tune_for_server()

    assert gc.callbacks.count(_observe_pause) == 1


def test_the_collector_hook_never_takes_a_metric_lock(restored_gc: None) -> None:
    """The hook may interrupt code that holds prometheus_client's (non-reentrant) lock: it must
    only record, never observe, or that thread waits on itself for good."""
    gc_tune_for_server()
    flush_gc_pauses()
    before = _pauses_counted("2")

    gc.collect(2)

    assert _pauses_counted("2") == before  # measured, not yet observed
    assert flush_gc_pauses() >= 1
    assert _pauses_counted("2") == before + 1


async def test_on_an_event_loop_the_pauses_are_observed_within_a_second(
    restored_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from mmo_platform import gc_tuning

    monkeypatch.setattr(gc_tuning, "FLUSH_SECONDS", 0.01)
    gc_tune_for_server()
    before = _pauses_counted("2")
    gc.collect(2)
    for _ in range(100):
        if _pauses_counted("2") > before:
            break
        await asyncio.sleep(0.01)
    gc_tuning._flusher[0].cancel()
    assert _pauses_counted("2") == before + 1
