"""Frames written straight to uvicorn's transport (ADR 0051): header bytes, limits, fallback;
messages taken straight from its parser (ADR 0052)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from websockets.frames import Frame, Opcode

from worlds.runtime.socket_writer import (
    MAX_UNWRITTEN_BYTES,
    OPCODE_BINARY,
    OPCODE_TEXT,
    SocketWriter,
    WriteResult,
    frame_header,
)


@dataclass
class FakeTransport:
    buffered: int = 0
    closing: bool = False
    written: list[bytes] = field(default_factory=list)
    aborted: bool = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def abort(self) -> None:
        self.aborted = True


@dataclass
class FakeProtocol:
    transport: FakeTransport
    close_sent: bool = False
    disconnected: bool = False
    frames: list[bytes] = field(default_factory=list)
    curr_msg_data_type: str = "text"
    queue: asyncio.Queue[dict[str, object]] = field(default_factory=asyncio.Queue)
    via_asgi: list[bytes] = field(default_factory=list)

    def send_receive_event_to_app(self) -> None:  # what uvicorn does: queue it for ASGI
        self.via_asgi.append(b"".join(self.frames))
        self.frames = []


def _parse(data: bytes) -> Frame:
    """Parse with websockets' own client-side reader (server frames are unmasked)."""
    from websockets.streams import StreamReader

    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_frame_header_is_a_valid_unmasked_final_frame(size: int) -> None:
    payload = b"x" * size

    frame = _parse(frame_header(OPCODE_BINARY, size) + payload)

    assert frame.opcode is Opcode.BINARY and frame.fin and frame.data == payload


def test_writer_writes_text_frames_and_stops_once_closing() -> None:
    transport = FakeTransport()
    protocol = FakeProtocol(transport)
    writer = SocketWriter(protocol)

    assert writer.write(b'{"t":"tick"}', OPCODE_TEXT) is WriteResult.WRITTEN
    protocol.close_sent = True
    assert writer.write(b'{"t":"tick"}', OPCODE_TEXT) is WriteResult.CLOSED

    (written,) = transport.written
    assert _parse(written).opcode is Opcode.TEXT


def test_a_client_that_stops_reading_is_reported_not_buffered() -> None:
    transport = FakeTransport(buffered=MAX_UNWRITTEN_BYTES + 1)
    writer = SocketWriter(FakeProtocol(transport))

    assert writer.write(b"frame", OPCODE_BINARY) is WriteResult.BACKLOGGED
    assert transport.written == []
    assert writer.write(b"last error", OPCODE_BINARY, force=True) is WriteResult.WRITTEN


def test_no_writer_without_uvicorn_sansio_so_asgi_send_stays_in_use() -> None:
    async def plain_send(message: dict[str, object]) -> None: ...

    class OtherServer:
        transport = FakeTransport()

        async def send(self, message: dict[str, object]) -> None: ...

    assert SocketWriter.for_asgi_send(plain_send) is None
    assert SocketWriter.for_asgi_send(OtherServer().send) is None


class BackloggedWriter:
    """A socket whose reader stopped: every tick frame is refused, the last error forced in."""

    def __init__(self) -> None:
        self.forced: list[bytes] = []
        self.aborted = False

    def write(self, payload: bytes, opcode: int, *, force: bool = False) -> WriteResult:
        if force:
            self.forced.append(bytes(payload))
            return WriteResult.WRITTEN
        return WriteResult.BACKLOGGED

    def abort(self) -> None:
        self.aborted = True


async def test_a_slow_consumer_gets_an_error_and_close_4008_and_leaves_the_hub() -> None:
    import asyncio
    import json

    from worlds.gateway import CLOSE_SLOW_CONSUMER, WorldConsumer

    sent: list[dict[str, object]] = []
    unregistered: list[str] = []

    class Hub:
        def unregister(self, connection: object, reason: str) -> None:
            unregistered.append(reason)

    async def base_send(message: dict[str, object]) -> None:
        sent.append(message)

    consumer = WorldConsumer()
    consumer.base_send = base_send
    consumer.hub = Hub()  # type: ignore[assignment]
    consumer.closed, consumer.attached, consumer.encoding = False, True, "json"
    writer = BackloggedWriter()
    consumer._socket_writer = writer  # type: ignore[assignment]

    assert consumer.write_frame_now(b'{"t":"tick"}') is True  # handled: the hub moves on
    await asyncio.sleep(0.01)

    assert unregistered == ["slow_consumer"]
    assert json.loads(writer.forced[0])["code"] == "slow_consumer"
    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", CLOSE_SLOW_CONSUMER)]
    assert not writer.aborted
    assert consumer.write_frame_now(b'{"t":"tick"}') is True and len(writer.forced) == 1


def test_taken_messages_skip_asgi_and_declined_or_queued_behind_ones_do_not() -> None:
    protocol = FakeProtocol(FakeTransport())
    taken: list[tuple[bytes, bool]] = []

    def taker(data: bytes, is_text: bool) -> bool:
        if data == b"decline":
            return False
        taken.append((data, is_text))
        return True

    SocketWriter(protocol).take_messages(taker)

    def arrive(data: bytes, kind: str = "text") -> None:
        protocol.frames, protocol.curr_msg_data_type = [data], kind
        protocol.send_receive_event_to_app()

    arrive(b"move-1")
    arrive(b"\x81", "bytes")
    arrive(b"decline")
    protocol.queue.put_nowait({"type": "websocket.receive"})  # an older message still queued
    arrive(b"move-2")
    protocol.close_sent = True
    arrive(b"after-close")

    assert taken == [(b"move-1", True), (b"\x81", False)]
    assert protocol.via_asgi == [b"decline", b"move-2", b"after-close"]
    assert protocol.frames == []
