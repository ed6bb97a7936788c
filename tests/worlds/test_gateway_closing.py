"""The gateway ends every connection cleanly and in bounded time, whatever the peer does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.protocols.utils import ClientDisconnected

from worlds import gateway
from worlds.gateway import WorldConsumer
from worlds.runtime.hub import GatewayHub
from worlds.runtime.messages import Control, ShardBatch


class RecordingWriter:
    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


def _consumer(send: Any) -> WorldConsumer:
    consumer = WorldConsumer()
    consumer.base_send = send
    consumer.closed, consumer.attached, consumer.encoding = False, False, "json"
    return consumer


async def test_a_close_the_peer_never_lets_through_is_aborted_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway, "CLOSE_SECONDS", 0.05)
    never = asyncio.Event()

    async def stalled_send(message: dict[str, Any]) -> None:
        await never.wait()  # uvicorn waits for a socket that never drains

    consumer = _consumer(stalled_send)
    writer = RecordingWriter()
    consumer._socket_writer = writer  # type: ignore[assignment]

    await asyncio.wait_for(consumer.close_with(4004), 2)

    assert consumer.closed
    assert writer.aborted


async def test_the_hub_does_not_wait_for_a_close_to_finish() -> None:
    never = asyncio.Event()
    closes: list[int] = []

    class StalledConnection:
        conn_id, shard, encoding, last_receive = "gw/1", "s1", "json", 0.0

        async def close_with(self, code: int, payload: bytes | str = b"") -> None:
            closes.append(code)
            await never.wait()

    hub = GatewayHub(bus=object())  # type: ignore[arg-type]
    hub.connections["gw/1"] = StalledConnection()  # type: ignore[assignment]
    kick = Control(kind="close", conn_id="gw/1", code=4007)
    batch = ShardBatch(shard="s1", frames=[], controls=[kick])

    await asyncio.wait_for(hub.deliver(batch), 1)
    await asyncio.sleep(0)

    assert closes == [4007]
    assert "gw/1" not in hub.connections
    never.set()


async def test_a_handler_error_still_runs_the_disconnect_once() -> None:
    disconnects: list[int] = []

    class Consumer(WorldConsumer):
        channel_layer_alias = "no-such-layer"

        async def receive(self, text_data: str | None = None, bytes_data: Any = None) -> None:
            raise ClientDisconnected()  # e.g. the peer vanished during a close

        async def disconnect(self, code: int) -> None:
            disconnects.append(code)
            await super().disconnect(code)

    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    messages.put_nowait({"type": "websocket.receive", "text": "{}"})

    async def send(message: dict[str, Any]) -> None:
        return None

    consumer = Consumer()
    consumer.closed, consumer.attached = False, False
    await asyncio.wait_for(consumer({"type": "websocket"}, messages.get, send), 2)

    assert disconnects == [1006]
    assert consumer.closed
