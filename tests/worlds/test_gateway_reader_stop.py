"""The gateway's channel-layer reader stops within a bound even when a cancel gets lost."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from worlds import gateway


async def _reader_that_swallows_one_cancel(stop: asyncio.Event) -> None:
    # What redis-py can do to channels_redis' blocking pop: the cancel becomes a timeout that
    # is retried, so the reader goes on waiting.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await stop.wait()


def test_a_reader_that_ignores_its_cancel_does_not_hold_the_socket_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway, "READER_STOP_SECONDS", 0.05)

    async def scenario() -> tuple[float, bool, bool]:
        stop = asyncio.Event()
        task = asyncio.create_task(_reader_that_swallows_one_cancel(stop))
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await gateway._stop_reader(task)
        waited = loop.time() - started
        kept = task in gateway._background
        stop.set()
        await task
        return waited, kept, task in gateway._background

    waited, kept_while_running, kept_after = asyncio.run(scenario())
    assert waited < 1.0
    assert kept_while_running  # referenced until it ends on its own
    assert not kept_after


def test_a_reader_that_honours_its_cancel_is_awaited() -> None:
    async def scenario() -> bool:
        task = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        await gateway._stop_reader(task)
        return task.cancelled()

    assert asyncio.run(scenario())
