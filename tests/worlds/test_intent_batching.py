"""A gateway publishes its clients' items to a shard in time-window batches, in order, losing
nothing on shutdown (``RedisShardSender``; no Redis needed: the client is a recording fake)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any

import ormsgpack
import pytest
import redis.asyncio as aioredis
from django.conf import settings

from worlds.runtime import hub as hub_module
from worlds.runtime.hub import GatewayHub
from worlds.runtime.messages import (
    Attach,
    Detach,
    GatewayToShard,
    Intent,
    Refresh,
    decode_gateway_batch,
)
from worlds.runtime.transport import RedisShardSender, listen_shard_channel

LONG_WINDOW = 60.0  # a window no test waits for: only the size limit or a close can flush


class RecordingRedis:
    """Stands in for ``redis.asyncio.Redis``: records every publish, optionally slowly."""

    def __init__(self, publish_delay: float = 0.0) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.publish_delay = publish_delay

    async def publish(self, channel: str, payload: bytes) -> int:
        if self.publish_delay:
            await asyncio.sleep(self.publish_delay)
        self.published.append((channel, payload))
        return 1

    def batches(self) -> list[list[GatewayToShard]]:
        return [
            decode_gateway_batch(ormsgpack.unpackb(payload))[1] for _, payload in self.published
        ]

    def items(self) -> list[GatewayToShard]:
        return [item for batch in self.batches() for item in batch]


def _sender(redis: RecordingRedis, **options: Any) -> RedisShardSender:
    return RedisShardSender(redis, "town-1", "gw-1", **options)  # type: ignore[arg-type]


def _moves(count: int, conn_id: str = "gw-1/1") -> list[GatewayToShard]:
    return [Intent(conn_id, f'{{"t":"move","seq":{n + 1}}}') for n in range(count)]


async def _loop_turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_intents_sent_within_the_window_go_out_in_one_publish() -> None:
    # given
    redis = RecordingRedis()
    sender = _sender(redis, flush_window=0.05)
    intents = _moves(40)

    # when: sent over several loop turns, all inside the window
    for intent in intents:
        sender.send(intent)
        await asyncio.sleep(0)

    # then: nothing before the window ends, one publish after
    assert redis.published == []
    await asyncio.sleep(0.1)
    assert len(redis.published) == 1
    assert redis.published[0][0] == "mmo:shard:town-1"
    assert redis.items() == intents


async def test_a_zero_window_publishes_at_the_end_of_the_loop_turn() -> None:
    redis = RecordingRedis()
    sender = _sender(redis, flush_window=0.0)
    intents = _moves(3)

    for intent in intents:
        sender.send(intent)
    await _loop_turns()

    assert redis.batches() == [intents]


async def test_a_full_buffer_publishes_without_waiting_for_the_window() -> None:
    redis = RecordingRedis()
    sender = _sender(redis, flush_window=LONG_WINDOW, max_batch_items=100)

    for intent in _moves(100):
        sender.send(intent)
    await _loop_turns()

    assert [len(batch) for batch in redis.batches()] == [100]


async def test_items_keep_their_order_across_batches_and_control_messages() -> None:
    # given: a publish slow enough that later items pile up behind it
    redis = RecordingRedis(publish_delay=0.01)
    sender = _sender(redis, flush_window=0.002, max_batch_items=8)
    sent: list[GatewayToShard] = []

    # when: attach / intents / refresh / detach of several connections, over many windows
    for conn in range(1, 6):
        conn_id = f"gw-1/{conn}"
        sent.append(Attach(conn_id, conn, conn, 1, "json", None))
        sent.extend(_moves(7, conn_id))
        sent.append(Refresh(conn_id, "equipment"))
        sent.append(Detach(conn_id, "disconnect"))
    for index, item in enumerate(sent):
        sender.send(item)
        if index % 3 == 0:
            await asyncio.sleep(0.003)
    await sender.close()

    # then
    assert len(redis.published) > 1
    assert redis.items() == sent


async def test_close_publishes_what_is_still_buffered_once() -> None:
    redis = RecordingRedis()
    sender = _sender(redis, flush_window=LONG_WINDOW)
    items = [*_moves(5), Detach("gw-1/1", "disconnect")]
    for item in items:
        sender.send(item)

    await sender.close()
    await _loop_turns()

    assert redis.batches() == [items]


async def test_stopping_the_hub_hands_over_the_buffered_detaches() -> None:
    redis = RecordingRedis()
    hub = GatewayHub(redis_client=redis, intent_flush_window=LONG_WINDOW)  # type: ignore[arg-type]
    hub.send_to_shard("town-1", Detach("gw-1/1", "disconnect"))
    hub.send_to_shard("field-1", Detach("gw-1/2", "disconnect"))

    await hub.stop()

    assert sorted(channel for channel, _ in redis.published) == [
        "mmo:shard:field-1",
        "mmo:shard:town-1",
    ]


@pytest.mark.redis
async def test_batches_cross_real_redis_whole_and_in_order() -> None:
    # given: a shard listening on a channel of its own (pub/sub ignores the database number)
    url = settings.REDIS_URL or os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = aioredis.Redis.from_url(url)
    shard = f"batching-test-{secrets.token_hex(4)}"
    received: list[list[GatewayToShard]] = []
    ready = asyncio.Event()
    listener = asyncio.create_task(
        listen_shard_channel(client, shard, lambda _, items: received.append(items), ready)
    )
    await asyncio.wait_for(ready.wait(), 5)
    sender = RedisShardSender(client, shard, "gw-1", flush_window=0.004)
    sent = [Attach("gw-1/1", 1, 1, 1, "json", None), *_moves(300), Detach("gw-1/1", "bye")]

    try:
        # when
        for index, item in enumerate(sent):
            sender.send(item)
            if index % 50 == 0:
                await asyncio.sleep(0.001)
        await sender.close()
        async with asyncio.timeout(5):
            while sum(map(len, received)) < len(sent):
                await asyncio.sleep(0.01)
    finally:
        listener.cancel()
        await client.aclose()

    # then
    assert [item for batch in received for item in batch] == sent
    assert len(received) <= 10


async def test_stopping_the_hub_does_not_wait_forever_for_a_silent_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "SENDER_CLOSE_SECONDS", 0.05)
    silent_redis: Any = RecordingRedis(publish_delay=60)
    hub = GatewayHub(redis_client=silent_redis, intent_flush_window=LONG_WINDOW)
    hub.send_to_shard("town-1", Detach("gw-1/1", "disconnect"))

    await asyncio.wait_for(hub.stop(), 2)


@pytest.mark.redis
async def test_listening_never_renders_messages_for_redis_pys_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: redis-py's push-response logger enabled, and a shard listening on a channel
    url = settings.REDIS_URL or os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = aioredis.Redis.from_url(url, protocol=3)  # RESP3: pub/sub messages are pushes
    shard = f"push-log-test-{secrets.token_hex(4)}"
    received: list[list[GatewayToShard]] = []
    ready = asyncio.Event()
    caplog.set_level(logging.DEBUG, logger="push_response")
    listener = asyncio.create_task(
        listen_shard_channel(client, shard, lambda _, items: received.append(items), ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), 5)
        # when a batch arrives
        sender = RedisShardSender(client, shard, "gw-1", flush_window=0.0)
        sender.send(_moves(1)[0])
        await sender.close()
        async with asyncio.timeout(5):
            while not received:
                await asyncio.sleep(0.01)
    finally:
        listener.cancel()
        await client.aclose()
    # then it was delivered, and no copy of it was turned into a log line
    assert received == [_moves(1)]
    assert not [record for record in caplog.records if record.name == "push_response"]


async def test_an_idle_gateway_tells_the_shard_it_is_alive_every_few_seconds() -> None:
    import time

    from worlds.runtime.transport import GATEWAY_KEEPALIVE_SECONDS

    redis = RecordingRedis()
    sender = _sender(redis, flush_window=LONG_WINDOW)

    sender.keepalive()
    await asyncio.sleep(0.01)
    assert redis.batches() == [[]]  # an empty batch: "this gateway is alive"

    sender.keepalive()
    await asyncio.sleep(0.01)
    assert len(redis.published) == 1  # it said so just now

    sender._last_publish = time.monotonic() - GATEWAY_KEEPALIVE_SECONDS  # idle since
    sender.send(Intent("gw-1/1", "{}"))
    sender.keepalive()  # an item is on its way: that says it
    await sender.close()
    assert redis.batches() == [[], [Intent("gw-1/1", "{}")]]

    sender._last_publish = time.monotonic() - GATEWAY_KEEPALIVE_SECONDS
    sender.keepalive()
    await asyncio.sleep(0.01)
    assert redis.batches() == [[], [Intent("gw-1/1", "{}")], []]
