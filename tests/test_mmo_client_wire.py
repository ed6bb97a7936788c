"""The bot client's own WebSocket connection (mmo_client.wire) against a scripted raw server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import Awaitable, Callable

import pytest
import uvloop
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader as FrameReader

from mmo_client.wire import ConnectionLost, HandshakeFailed, open_connection
from tests.ws_frames import ws_frame

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = False) -> bytes:
    return ws_frame(opcode, payload, fin=fin, mask=b"\0\0\0\0" if masked else None)


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    answer = base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + answer + b"\r\n\r\n"
    )


async def read_client_frame(reader: asyncio.StreamReader) -> Frame:
    """Parse one client frame with websockets' reference parser (it unmasks and checks)."""
    frames = FrameReader()
    parser = Frame.parse(frames.read_exact, mask=True)
    next(parser)
    while True:
        data = await reader.read(65536)
        assert data, "the client hung up before sending a whole frame"
        frames.feed_data(data)
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
            return frame


async def with_server(script: Script, client: Callable[[str], Awaitable[None]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await client(f"ws://127.0.0.1:{port}/ws/world/?x=1")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])  # bots run on uvloop
def test_messages_arrive_whole_across_reads_fragments_and_long_lengths(loop: str) -> None:
    long_text = b"x" * 70_000  # a 64-bit length
    medium = b"m" * 300  # a 16-bit length
    received: list[tuple[bytes, bool]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        stream = (
            server_frame(0x1, b'{"t":"tick"}')
            + server_frame(0x2, medium)
            + server_frame(0x1, b"par", fin=False)
            + server_frame(0x0, b"ts", fin=True)
            + server_frame(0x1, long_text)
        )
        for start in range(0, len(stream), 7_000):  # split mid-header and mid-payload
            writer.write(stream[start : start + 7_000])
            await writer.drain()
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)

    async def client(url: str) -> None:
        connection = await open_connection(url, lambda data, text: received.append((data, text)))
        await connection.finished

    run = uvloop.run if loop == "uvloop" else asyncio.run
    run(with_server(script, client))
    assert received == [
        (b'{"t":"tick"}', True),
        (medium, False),
        (b"parts", True),
        (long_text, True),
    ]


def test_sent_frames_are_masked_and_pings_are_answered() -> None:
    seen: list[Frame] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        seen.append(await read_client_frame(reader))
        writer.write(server_frame(0x9, b"are you there"))
        seen.append(await read_client_frame(reader))
        seen.append(await read_client_frame(reader))

    async def client(url: str) -> None:
        connection = await open_connection(url, lambda data, text: None)
        await connection.send('{"t":"move","seq":1}')
        await asyncio.sleep(0.1)
        await connection.send(b"\x81\xa1t")
        await connection.finished

    asyncio.run(with_server(script, client))
    assert [(frame.opcode, frame.data) for frame in seen] == [
        (Opcode.TEXT, b'{"t":"move","seq":1}'),
        (Opcode.PONG, b"are you there"),
        (Opcode.BINARY, b"\x81\xa1t"),
    ]


def test_a_server_close_is_echoed_and_reported_with_its_code_and_reason() -> None:
    echoed: list[Frame] = []
    outcome: dict[str, object] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        writer.write(server_frame(0x8, struct.pack("!H", 4002) + b"session_taken_over"))
        echoed.append(await read_client_frame(reader))

    async def client(url: str) -> None:
        connection = await open_connection(url, lambda data, text: None)
        await connection.finished
        outcome.update(code=connection.close_code, reason=connection.close_reason)
        with pytest.raises(ConnectionLost):
            await connection.send("late")

    asyncio.run(with_server(script, client))
    assert outcome == {"code": 4002, "reason": "session_taken_over"}
    assert echoed[0].opcode is Opcode.CLOSE and echoed[0].data[:2] == struct.pack("!H", 4002)


def test_a_client_close_waits_for_the_servers_answer() -> None:
    outcome: dict[str, object] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        frame = await read_client_frame(reader)
        writer.write(server_frame(0x8, frame.data))

    async def client(url: str) -> None:
        connection = await open_connection(url, lambda data, text: None)
        await connection.close()
        outcome.update(code=connection.close_code, done=connection.finished.done())

    asyncio.run(with_server(script, client))
    assert outcome == {"code": 1000, "done": True}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (server_frame(0x1, b"hi", masked=True), 1002),  # servers must not mask
        (server_frame(0x3, b""), 1002),  # reserved opcode
        (server_frame(0x2, b"y" * 2048), 1009),  # over the client's max_size
    ],
)
def test_a_bad_server_frame_closes_with_a_protocol_code(frame: bytes, code: int) -> None:
    received: list[bytes] = []
    outcome: dict[str, object] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        writer.write(frame + server_frame(0x1, b"after"))
        await asyncio.sleep(0.3)

    async def client(url: str) -> None:
        connection = await open_connection(url, lambda d, t: received.append(d), max_size=1024)
        await connection.finished
        outcome["code"] = connection.close_code

    asyncio.run(with_server(script, client))
    assert outcome == {"code": code}
    assert received == []


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 403),
        (b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: bogus\r\n\r\n", 101),
        (b"garbage\r\n\r\n", 0),
    ],
)
def test_a_refused_or_broken_handshake_raises(answer: bytes, status: int) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await asyncio.sleep(0.3)

    async def client(url: str) -> None:
        with pytest.raises(HandshakeFailed) as failure:
            await open_connection(url, lambda data, text: None)
        assert failure.value.status == status

    asyncio.run(with_server(script, client))


def test_a_handler_error_ends_the_connection_and_is_kept() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        writer.write(server_frame(0x1, b"boom"))
        await asyncio.sleep(0.3)

    def handler(data: bytes, text: bool) -> None:
        raise ValueError(data.decode())

    async def client(url: str) -> None:
        connection = await open_connection(url, handler)
        await asyncio.wait_for(connection.finished, 2)
        assert isinstance(connection.failure, ValueError)
        assert connection.close_code == 1006

    asyncio.run(with_server(script, client))


def test_only_websocket_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="not a WebSocket URL"):
        asyncio.run(open_connection("http://127.0.0.1:1/", lambda data, text: None))
