"""A shard's chat history writer: the lines the sim accepted, buffered and written in batches.

The runner hands over each tick's ``TickOutput.chat`` (:meth:`ChatHistoryBuffer.add_records`)
and calls :meth:`ChatHistoryBuffer.maybe_flush` once per loop turn. A write starts every
``interval`` seconds, or at once when a full batch is waiting; it runs in a worker thread (one
INSERT per batch through ``chat.services.chat_history_record``), one write at a time, so lines
land in the order they were said.

A failed write keeps its lines at the head of the buffer and the next attempt backs off
(doubling up to ``max_backoff``). The buffer is bounded: when the database stays down long
enough to fill it, the oldest lines are dropped, logged and counted
(``mmo_chat_history_dropped_total``), so a shard never grows without limit (ADR 0060).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from chat.services import ChatLine, chat_history_record
from mmo_platform import metrics
from worlds.sim.entities import ChatRecord

logger = logging.getLogger(__name__)

ChatHistoryWrite = Callable[[Sequence[ChatLine]], int]


class ChatHistoryBuffer:
    def __init__(
        self,
        *,
        realm: str,
        shard: str,
        write: ChatHistoryWrite | None = None,  # default: chat.services.chat_history_record
        interval: float = 1.0,
        batch_size: int = 500,
        max_pending: int = 20_000,
        max_backoff: float = 30.0,
    ) -> None:
        self.realm, self.shard = realm, shard
        self.interval, self.batch_size, self.max_pending = interval, batch_size, max_pending
        self.max_backoff = max_backoff
        self._write = write or chat_history_record
        self._pending: deque[ChatLine] = deque()
        self._lock = asyncio.Lock()  # one write at a time: lines land in order
        self._task: asyncio.Task[int] | None = None
        self._next_write_at = 0.0
        self._failures = 0
        self._dropped_since_write = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add_records(
        self, records: Iterable[ChatRecord], *, tick_now: float, sender_name: Callable[[int], str]
    ) -> None:
        """Queue one tick's accepted lines. ``tick_now`` is the sim clock of that tick: the
        lines are stamped with the wall clock read now, shifted by their offset from it."""
        wall_now = time.time()
        lines = []
        for record in records:
            metrics.CHAT_MESSAGES.labels(channel=record.channel).inc()
            lines.append(
                ChatLine(
                    realm=self.realm,
                    shard=self.shard,
                    zone=record.zone_id,
                    channel=record.channel,
                    character_id=record.character_id,
                    sender_name=sender_name(record.character_id),
                    text=record.text,
                    sent_at=datetime.fromtimestamp(wall_now + record.at - tick_now, tz=UTC),
                )
            )
        self._pending.extend(lines)
        self._drop_oldest_beyond_bound()

    def maybe_flush(self, now: float) -> None:
        """Start a background write when one is due (``now``: ``time.monotonic()``)."""
        if not self._pending or (self._task is not None and not self._task.done()):
            return
        due = now >= self._next_write_at
        if not due and (self._failures or len(self._pending) < self.batch_size):
            return  # a full batch goes at once, unless we are backing off after a failure
        self._next_write_at = now + self.interval
        self._task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> int:
        """Write every pending line, batch by batch, off the event loop; returns how many rows
        were written. Stops at the first failure, keeping the unwritten lines."""
        written = 0
        async with self._lock:
            while self._pending:
                count = min(self.batch_size, len(self._pending))
                batch = [self._pending.popleft() for _ in range(count)]
                try:
                    written += await asyncio.to_thread(self._write, batch)
                except Exception:
                    self._keep_after_failure(batch)
                    break
                self._after_success()
        return written

    async def close(self) -> int:
        """Shutdown: wait for a write in flight, then try once more to write what is left."""
        if self._task is not None:
            await self._task
        written = await self.flush()
        if self._pending:
            logger.error(
                "shard %s: %d chat lines could not be written at shutdown",
                self.shard,
                len(self._pending),
            )
        return written

    def _keep_after_failure(self, batch: list[ChatLine]) -> None:
        self._pending.extendleft(reversed(batch))
        self._failures += 1
        delay = min(self.max_backoff, self.interval * 2 ** (self._failures - 1))
        self._next_write_at = time.monotonic() + delay
        logger.exception(
            "shard %s: chat history write failed (%d lines kept, attempt %d, next in %.0f s)",
            self.shard,
            len(self._pending),
            self._failures,
            delay,
        )
        self._drop_oldest_beyond_bound()

    def _after_success(self) -> None:
        if self._dropped_since_write:
            logger.warning(
                "shard %s: chat history writes resumed; %d lines were dropped meanwhile",
                self.shard,
                self._dropped_since_write,
            )
        self._failures = self._dropped_since_write = 0

    def _drop_oldest_beyond_bound(self) -> None:
        excess = len(self._pending) - self.max_pending
        if excess <= 0:
            return
        for _ in range(excess):
            self._pending.popleft()
        metrics.CHAT_HISTORY_DROPPED.labels(shard=self.shard).inc(excess)
        if not self._dropped_since_write:  # once per outage; the counter keeps the total
            logger.error(
                "shard %s: chat history buffer full (%d lines); dropping the oldest until the "
                "database answers again",
                self.shard,
                self.max_pending,
            )
        self._dropped_since_write += excess
