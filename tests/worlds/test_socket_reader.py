"""Client frames split from the socket's bytes ahead of uvicorn's parser (ADR 0052)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from types import SimpleNamespace

from tests.ws_frames import ws_frame
from worlds.runtime.socket_reader import PASSTHROUGH_BYTES, ClientFrameReader


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    return ws_frame(opcode, payload, fin=fin, mask=os.urandom(4) if masked else None)


class FakeParser:
    """websockets' connection as the reader sees it: ``receive_data`` records what passes."""

    def __init__(self) -> None:
        self.reader = SimpleNamespace(buffer=bytearray())
        self.events: list[object] = []
        self.behind = bytearray()

    def receive_data(self, data: bytes) -> None:
        self.behind += data


@dataclass
class FakeProtocol:
    """What the reader reads of uvicorn's protocol; ``data_received`` is uvicorn's, in short."""

    close_sent: bool = False
    frames: list[bytes] = field(default_factory=list)
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    conn: FakeParser = field(default_factory=FakeParser)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)

    @property
    def behind(self) -> bytearray:
        return self.conn.behind


def reader_on(protocol: FakeProtocol, decline: bytes = b"decline") -> list[tuple[bytes, bool]]:
    taken: list[tuple[bytes, bool]] = []

    def taker(payload: bytes, is_text: bool) -> bool:
        if payload == decline:
            return False
        taken.append((payload, is_text))
        return True

    assert ClientFrameReader.install(protocol, taker)
    return taken


def feed(protocol: FakeProtocol, stream: bytes, chunk: int) -> None:
    for start in range(0, len(stream), chunk):
        protocol.data_received(stream[start : start + chunk])


def test_data_frames_are_taken_whole_however_the_bytes_are_split() -> None:
    medium = b"m" * 300  # a 16-bit length
    stream = client_frame(1, b'{"t":"move","seq":1}') + client_frame(2, medium)
    for chunk in (1, 3, 7, len(stream)):
        protocol = FakeProtocol()
        taken = reader_on(protocol)
        feed(protocol, stream, chunk)
        assert taken == [(b'{"t":"move","seq":1}', True), (medium, False)]
        assert protocol.behind == b""


def test_other_frames_reach_the_protocol_behind_unchanged_and_in_order() -> None:
    protocol = FakeProtocol()
    taken = reader_on(protocol)
    ping = client_frame(0x9, b"hi")
    declined = client_frame(1, b"decline")
    first_fragment = client_frame(1, b"par", fin=False)

    feed(protocol, client_frame(1, b"a") + ping + declined + client_frame(1, b"b"), 5)
    assert taken == [(b"a", True), (b"b", True)]
    assert protocol.behind == ping + declined

    after_fragment = client_frame(1, b"c")
    feed(protocol, first_fragment, 64)
    protocol.frames = [b"par"]  # uvicorn is now assembling a fragmented message
    feed(protocol, after_fragment, 64)
    assert protocol.behind == ping + declined + first_fragment + after_fragment
    assert taken == [(b"a", True), (b"b", True)]


def test_nothing_overtakes_messages_still_queued_for_the_consumer() -> None:
    protocol = FakeProtocol()
    taken = reader_on(protocol)
    protocol.queue.put_nowait({"type": "websocket.receive"})
    frame = client_frame(1, b"late")

    protocol.data_received(frame)

    assert taken == []
    assert protocol.behind == frame


def test_a_violation_or_a_huge_frame_hands_over_the_rest_of_the_stream() -> None:
    for bad in (
        client_frame(1, b"plain", masked=False),  # clients must mask
        client_frame(2, b"x" * (PASSTHROUGH_BYTES + 1)),
    ):
        protocol = FakeProtocol()
        taken = reader_on(protocol)
        later = client_frame(1, b"after")
        feed(protocol, client_frame(1, b"ok") + bad + later, 4096)
        feed(protocol, later, 4096)
        assert taken == [(b"ok", True)]
        assert protocol.behind == bad + later + later


def test_after_the_close_everything_goes_behind_including_a_partial_frame() -> None:
    protocol = FakeProtocol()
    taken = reader_on(protocol)
    frame = client_frame(1, b"bye now")
    protocol.data_received(frame[:4])
    protocol.close_sent = True
    protocol.data_received(frame[4:])

    assert taken == []
    assert protocol.behind == frame


def test_nothing_overtakes_frames_parsed_but_not_yet_handled() -> None:
    protocol = FakeProtocol()
    taken = reader_on(protocol)
    protocol.conn.events.append("an earlier frame uvicorn has yet to handle")
    frame = client_frame(1, b"move")

    protocol.data_received(frame)

    assert taken == []
    assert protocol.behind == frame


def test_no_reader_when_the_parser_already_holds_bytes() -> None:
    protocol = FakeProtocol()
    protocol.conn.reader.buffer += b"\x81"
    original = protocol.conn.receive_data

    assert not ClientFrameReader.install(protocol, lambda payload, text: True)
    assert protocol.conn.receive_data == original
