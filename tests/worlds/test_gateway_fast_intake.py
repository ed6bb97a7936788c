"""The gateway's fast intake (ADR 0052): which frames skip ASGI ``receive`` and which do not."""

from __future__ import annotations

import asyncio

import pytest

from worlds.gateway import WorldConsumer
from worlds.sim.codec import MAX_FRAME_BYTES, FloodGuard

MOVE = b'{"t":"move","seq":1,"x":1.5,"y":2.5,"ct":10.0,"cid":0}'


class RecordingHub:
    def __init__(self) -> None:
        self.forwarded: list[tuple[str, bytes | str]] = []

    def forward(self, connection: WorldConsumer, raw: bytes | str) -> None:
        self.forwarded.append((connection.conn_id, raw))


def _attached(encoding: str = "json") -> tuple[WorldConsumer, RecordingHub]:
    consumer = WorldConsumer()
    hub = RecordingHub()
    consumer.hub = hub  # type: ignore[assignment]
    consumer.conn_id, consumer.encoding = "gw/1", encoding
    consumer.closed, consumer.attached, consumer.last_receive = False, True, 0.0
    consumer.flood = FloodGuard()
    consumer._handler_lock = asyncio.Lock()
    return consumer, hub


def test_an_attached_connections_move_goes_straight_to_its_shard() -> None:
    consumer, hub = _attached()

    assert consumer.take_intent_now(MOVE, True)

    assert hub.forwarded == [("gw/1", MOVE)]
    assert consumer.last_receive > 0.0


def test_a_msgpack_connections_binary_frame_goes_straight_to_its_shard() -> None:
    consumer, hub = _attached("msgpack")

    assert consumer.take_intent_now(b"\x81\xa1t\xa4move", False)

    assert hub.forwarded == [("gw/1", b"\x81\xa1t\xa4move")]


@pytest.mark.parametrize(
    ("change", "data", "is_text"),
    [
        ({"attached": False}, MOVE, True),  # the hello and anything before it
        ({"closed": True}, MOVE, True),
        ({}, b"x" * (MAX_FRAME_BYTES + 1), True),  # receive answers frame_too_large
        ({}, '{"t":"chat","text":"héllo"}'.encode(), True),  # uvicorn checks the UTF-8
        ({"encoding": "msgpack"}, MOVE, True),  # text on msgpack: receive answers bad_frame
        ({}, MOVE, False),  # binary on JSON: receive answers bad_frame
        ({"flood": FloodGuard(burst=0.0, rate=0.0)}, MOVE, True),  # receive answers the flood
    ],
)
def test_everything_else_is_left_to_receive(
    change: dict[str, object], data: bytes, is_text: bool
) -> None:
    consumer, hub = _attached()
    for name, value in change.items():
        setattr(consumer, name, value)

    assert not consumer.take_intent_now(data, is_text)
    assert hub.forwarded == []


async def test_nothing_overtakes_a_running_handler() -> None:
    consumer, hub = _attached()

    async with consumer._handler_lock:  # e.g. a takeover being handled
        assert not consumer.take_intent_now(MOVE, True)
    assert consumer.take_intent_now(MOVE, True)
    assert len(hub.forwarded) == 1
