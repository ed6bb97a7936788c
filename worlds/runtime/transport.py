"""How gateways and shards reach each other: in memory (embedded) or over Redis (production).

Both directions are batched. A gateway buffers what its clients send and flushes per shard a
few milliseconds after the first buffered item (``WORLD_INTENT_FLUSH_MS``); a shard flushes once
per tick per gateway. Redis pub/sub is used
directly (not channels_redis groups): one publish carries a whole tick for a gateway process,
which sidesteps the group fan-out limits measured with channels_redis (ADR 0050).

Pub/sub is fire-and-forget, which suits frames (the next tick supersedes a lost one). Control
messages that must not be lost (attach, detach, transfer) are idempotent on both ends and the
durable truth (which zone a character is in) lives in the database, so a lost control message
costs a reconnect, never a duplicate or a missing character.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import ormsgpack
import redis.asyncio as aioredis

from worlds.runtime.messages import (
    GatewayToShard,
    ShardBatch,
    decode_gateway_batch,
    decode_shard_batch,
    encode_gateway_batch,
    encode_shard_batch,
)

logger = logging.getLogger(__name__)

SHARD_CHANNEL = "mmo:shard:{name}"
GATEWAY_CHANNEL = "mmo:gw:{gateway_id}"
# Gateway -> shard batching (``RedisShardSender``): how long the first buffered item may wait,
# and how many items publish at once without waiting.
INTENT_FLUSH_WINDOW_SECONDS = 0.004
INTENT_BATCH_MAX_ITEMS = 512
# A gateway with connections on a shard publishes to it at least this often (an empty batch when
# its players are idle), so the shard can tell a killed gateway from quiet players
# (``ShardRunner``: GATEWAY_SILENCE_LIMIT_SECONDS).
GATEWAY_KEEPALIVE_SECONDS = 2.0

ShardInboxHandler = Callable[[str, list[GatewayToShard]], None]
GatewayBatchHandler = Callable[[ShardBatch], Awaitable[None]]


class ShardOutbox(Protocol):
    """What a shard uses to hand each gateway its batch for this tick."""

    async def publish(self, gateway_id: str, batch: ShardBatch) -> None: ...

    async def publish_many(self, batches: dict[str, ShardBatch]) -> None: ...


class ShardSender(Protocol):
    """What a gateway uses to reach one shard."""

    def send(self, item: GatewayToShard) -> None: ...

    def keepalive(self) -> None:
        """Tell the shard this gateway is alive, unless it heard from it lately."""

    async def close(self) -> None: ...


# --- embedded: everything in one process ------------------------------------------------------


class LocalBus:
    """Process-wide registry connecting in-process gateways and shards."""

    def __init__(self) -> None:
        self.shard_inboxes: dict[str, ShardInboxHandler] = {}
        self.gateway_handlers: dict[str, GatewayBatchHandler] = {}

    def register_shard(self, name: str, handler: ShardInboxHandler) -> None:
        self.shard_inboxes[name] = handler

    def unregister_shard(self, name: str) -> None:
        self.shard_inboxes.pop(name, None)

    def register_gateway(self, gateway_id: str, handler: GatewayBatchHandler) -> None:
        self.gateway_handlers[gateway_id] = handler


class LocalShardSender:
    def __init__(self, bus: LocalBus, shard: str, gateway_id: str) -> None:
        self.bus, self.shard, self.gateway_id = bus, shard, gateway_id

    def send(self, item: GatewayToShard) -> None:
        handler = self.bus.shard_inboxes.get(self.shard)
        if handler is not None:
            handler(self.gateway_id, [item])

    def keepalive(self) -> None:
        handler = self.bus.shard_inboxes.get(self.shard)
        if handler is not None:
            handler(self.gateway_id, [])

    async def close(self) -> None:
        """Nothing is buffered: ``send`` hands each item to the shard's inbox at once."""


class LocalShardOutbox:
    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus

    async def publish(self, gateway_id: str, batch: ShardBatch) -> None:
        handler = self.bus.gateway_handlers.get(gateway_id)
        if handler is not None:
            await handler(batch)

    async def publish_many(self, batches: dict[str, ShardBatch]) -> None:
        for gateway_id, batch in batches.items():
            await self.publish(gateway_id, batch)


# --- production: Redis pub/sub ---------------------------------------------------------------


class RedisShardSender:
    """Buffers items for one shard and publishes them together.

    The buffer is published ``flush_window`` seconds after its first item arrived, or as soon as
    it holds ``max_batch_items``, whichever comes first (``flush_window=0``: at the end of the
    current event-loop turn). At thousands of intents per second a window of a few milliseconds
    turns many small publishes, each parsed again by the shard, into a few large ones.

    Everything for the shard (intents and attach/detach/refresh alike) shares one buffer and
    publishes are serialised, so the shard receives items in the order they were sent.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        shard: str,
        gateway_id: str,
        *,
        flush_window: float = INTENT_FLUSH_WINDOW_SECONDS,
        max_batch_items: int = INTENT_BATCH_MAX_ITEMS,
    ) -> None:
        self.client, self.shard, self.gateway_id = client, shard, gateway_id
        self.channel = SHARD_CHANNEL.format(name=shard)
        self.flush_window = flush_window
        self.max_batch_items = max_batch_items
        self._buffer: list[GatewayToShard] = []
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._flush_pending = False  # a flush task exists that has not taken the buffer yet
        self._publish_lock = asyncio.Lock()
        self._last_publish = 0.0  # time.monotonic() of the last publish

    def send(self, item: GatewayToShard) -> None:
        self._buffer.append(item)
        if self._flush_pending:
            return  # the pending flush will take this item too
        if len(self._buffer) >= self.max_batch_items:
            self._cancel_timer()
            self._spawn_flush()
        elif self._timer is None:
            self._timer = self._schedule_flush()

    def keepalive(self) -> None:
        if self._buffer or self._flush_pending or self._timer is not None:
            return  # items are on their way: they say it
        if time.monotonic() - self._last_publish >= GATEWAY_KEEPALIVE_SECONDS:
            self._spawn_flush(keepalive=True)

    async def close(self) -> None:
        """Publish whatever is still buffered (gateway shutdown)."""
        self._cancel_timer()
        await self._flush()

    def _schedule_flush(self) -> asyncio.TimerHandle | asyncio.Handle:
        loop = asyncio.get_running_loop()
        if self.flush_window <= 0:
            return loop.call_soon(self._on_timer)
        return loop.call_later(self.flush_window, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._flush_pending:
            self._spawn_flush()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _spawn_flush(self, *, keepalive: bool = False) -> None:
        self._flush_pending = True
        task = asyncio.get_running_loop().create_task(self._flush(keepalive=keepalive))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _flush(self, *, keepalive: bool = False) -> None:
        # The buffer is taken only once the previous publish is done: publishes never overtake
        # each other, and what arrived meanwhile rides along.
        async with self._publish_lock:
            items, self._buffer, self._flush_pending = self._buffer, [], False
            if not items and not keepalive:
                return
            payload = ormsgpack.packb(encode_gateway_batch(self.gateway_id, items))
            self._last_publish = time.monotonic()
            try:
                await self.client.publish(self.channel, payload)
            except aioredis.RedisError:
                logger.exception("gateway %s could not reach shard %s", self.gateway_id, self.shard)


class RedisShardOutbox:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def publish(self, gateway_id: str, batch: ShardBatch) -> None:
        await self.publish_many({gateway_id: batch})

    async def publish_many(self, batches: dict[str, ShardBatch]) -> None:
        if not batches:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for gateway_id, batch in batches.items():
                channel = GATEWAY_CHANNEL.format(gateway_id=gateway_id)
                pipe.publish(channel, ormsgpack.packb(encode_shard_batch(batch)))
            await pipe.execute()


async def _message_as_is(response: object) -> object:
    """The pub/sub push handler. redis-py's default (RESP3) builds ``"Push response: " +
    str(response)`` for a debug log line even with debug logging off: a repr of every tick's
    whole batch, several per cent of a gateway's CPU in the 1,000-player benchmark."""
    return response


async def _listen(
    client: aioredis.Redis, channel: str, ready: asyncio.Event
) -> AsyncIterator[object]:
    """Yield each decoded message published on ``channel`` until cancelled; malformed ones are
    logged and skipped (one bad publisher must not stop a shard or a gateway)."""
    async with client.pubsub(push_handler_func=_message_as_is) as pubsub:
        await pubsub.subscribe(channel)
        ready.set()
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                yield ormsgpack.unpackb(message["data"])
            except ormsgpack.MsgpackDecodeError:
                logger.warning("dropped a malformed message on %s", channel)


async def listen_shard_channel(
    client: aioredis.Redis, shard: str, handler: ShardInboxHandler, ready: asyncio.Event
) -> None:
    """Feed gateway batches addressed to ``shard`` into ``handler`` until cancelled."""
    channel = SHARD_CHANNEL.format(name=shard)
    async for wire in _listen(client, channel, ready):
        try:
            gateway_id, items = decode_gateway_batch(wire)  # type: ignore[arg-type]
        except (ValueError, TypeError, IndexError):
            logger.warning("shard %s dropped a malformed gateway batch", shard)
            continue
        handler(gateway_id, items)


async def listen_gateway_channel(
    client: aioredis.Redis, gateway_id: str, handler: GatewayBatchHandler, ready: asyncio.Event
) -> None:
    """Feed shard batches addressed to this gateway process into ``handler`` until cancelled."""
    channel = GATEWAY_CHANNEL.format(gateway_id=gateway_id)
    async for wire in _listen(client, channel, ready):
        try:
            batch = decode_shard_batch(wire)  # type: ignore[arg-type]
        except (ValueError, TypeError, IndexError):
            logger.warning("gateway %s dropped a malformed shard batch", gateway_id)
            continue
        await handler(batch)


def redis_client_for_transport() -> aioredis.Redis:
    """A client whose reads never time out: a pub/sub listener may wait minutes for a message
    (redis-py 8 defaults to a 5 s read timeout, which would kill an idle listener)."""
    from django.conf import settings

    if not settings.REDIS_URL:
        raise RuntimeError("the Redis transport needs REDIS_URL")
    return aioredis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=None, socket_keepalive=True, health_check_interval=30
    )


# Keeps fire-and-forget tasks referenced until they finish (asyncio holds only weak refs).
_background: set[asyncio.Task[None]] = set()
