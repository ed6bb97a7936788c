"""Garbage-collector settings for the long-running server processes (serve, runshard).

A server holds ~1 M long-lived objects after start-up (Django, the URL and app registries, the
content tables) and allocates tens of thousands of short-lived ones per second (frames, intents,
ASGI messages). With CPython's defaults (a young collection every 700 net allocations, older
generations scanned in proportion) the collector keeps re-scanning the long-lived heap: pauses
of tens of ms in the event loop, which show up as RTT spikes.

- ``gc.freeze()`` once start-up is done moves everything alive into the permanent generation:
  never scanned again (and never copied on write in forked workers).
- A young-generation threshold of 10,000: ~15 times fewer young collections; each one still
  only scans young objects, so its cost stays small.
- Every collection's pause is observed in ``mmo_gc_pause_seconds{generation}``, so a latency
  spike can be told apart from a collection (objects made after start-up, such as each
  connection's, are still scanned by the older generations' collections).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

YOUNG_GENERATION_THRESHOLD = 10_000


def gc_tune_for_server(*, young_threshold: int = YOUNG_GENERATION_THRESHOLD) -> None:
    """Call once, when the process has finished starting up (everything loaded for good)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
    install_gc_pause_metric()
    logger.info(
        "gc tuned: %d objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold()
    )


_started_at: list[float] = []
# Pauses measured but not yet observed. The collector's callback only appends here: observing a
# metric takes prometheus_client's lock, which (multiprocess mode) the interrupted code of the
# same thread may hold; waiting on it inside the collector would hang the process for good.
_pending_pauses: collections.deque[tuple[int, float]] = collections.deque(maxlen=4096)
_pause_by_generation: dict[int, Any] = {}
# The pending timer of the flush on the running loop (a timer, not a task: a loop that closes
# with it pending drops it silently instead of warning about a destroyed task).
_flusher: list[asyncio.TimerHandle] = []
FLUSH_SECONDS = 1.0


def _observe_pause(phase: str, info: dict[str, Any]) -> None:
    """A ``gc.callbacks`` hook: runs at the start and the stop of every collection."""
    if phase == "start":
        _started_at[:] = [time.perf_counter()]
    elif _started_at:
        pause = time.perf_counter() - _started_at.pop()
        _pending_pauses.append((info.get("generation", -1), pause))


def flush_gc_pauses() -> int:
    """Observe the pauses measured since the last flush; returns how many."""
    observed = 0
    while _pending_pauses:
        generation, pause = _pending_pauses.popleft()
        histogram = _pause_by_generation.get(generation)
        if histogram is not None:
            histogram.observe(pause)
            observed += 1
    return observed


def _flush_every_second(loop: asyncio.AbstractEventLoop) -> None:
    flush_gc_pauses()
    _flusher[:] = [loop.call_later(FLUSH_SECONDS, _flush_every_second, loop)]


def install_gc_pause_metric() -> None:
    """Measure every collection's pause into ``mmo_gc_pause_seconds`` (once per process); the
    pauses are observed each second by a timer on the running event loop, if there is one."""
    from mmo_platform.metrics import GC_PAUSE_SECONDS

    for generation in range(3):
        _pause_by_generation[generation] = GC_PAUSE_SECONDS.labels(generation=str(generation))
    if _observe_pause not in gc.callbacks:
        gc.callbacks.append(_observe_pause)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _flusher and not _flusher[0].cancelled():
        _flusher[0].cancel()  # at most one flush timer, on the loop running now
    _flusher[:] = [loop.call_later(FLUSH_SECONDS, _flush_every_second, loop)]
