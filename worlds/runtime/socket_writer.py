"""Tick frames written straight to uvicorn's socket transport, bypassing ASGI ``send`` (ADR 0051),
and client intents taken straight from its frame parser, bypassing ASGI ``receive`` (ADR 0052).

Every tick the gateway writes one frame to each of up to thousands of sockets. Through ASGI that
is, per frame: a ``websocket.send`` dict, a coroutine, uvicorn's ``writable`` wait, a JSON
``bytes -> str -> bytes`` round trip and websockets' frame builder. Here a frame is one RFC 6455
header (server frames are never masked) plus the payload, handed to ``transport.write``.

Only uvicorn's ``websockets-sansio`` protocol is recognised (what ``manage.py serve`` runs);
anything else (daphne, Channels' test communicator, another uvicorn protocol) gets no writer and
the caller keeps using ASGI ``send``. The writer never writes once uvicorn has sent the close
frame, so a data frame can never follow it.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from typing import Any

from worlds.runtime.socket_reader import ClientFrameReader, MessageTaker

# A client that leaves this much unwritten is not reading: it is dropped rather than buffered
# without bound (the next tick supersedes every frame it has not read anyway).
MAX_UNWRITTEN_BYTES = 256 * 1024

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
_FIN = 0x80


class WriteResult(enum.Enum):
    WRITTEN = "written"
    BACKLOGGED = "backlogged"  # over MAX_UNWRITTEN_BYTES: the caller closes the connection
    CLOSED = "closed"  # the socket is closing or gone: nothing to do


def frame_header(opcode: int, length: int) -> bytes:
    """An unmasked, final-fragment WebSocket frame header (RFC 6455 section 5.2)."""
    if length < 126:
        return bytes((_FIN | opcode, length))
    if length < 1 << 16:
        return struct.pack("!BBH", _FIN | opcode, 126, length)
    return struct.pack("!BBQ", _FIN | opcode, 127, length)


class SocketWriter:
    """Writes frames to one uvicorn ``websockets-sansio`` connection's transport."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport: asyncio.WriteTransport = protocol.transport

    @classmethod
    def for_asgi_send(cls, send: Any) -> SocketWriter | None:
        """A writer if ``send`` is a bound method of uvicorn's sansio protocol, else None."""
        protocol = getattr(send, "__self__", None)
        if protocol is None or not _is_uvicorn_sansio(protocol):
            return None
        if getattr(protocol, "transport", None) is None:
            return None
        return cls(protocol)

    def write(
        self, payload: bytes | memoryview, opcode: int, *, force: bool = False
    ) -> WriteResult:
        """Queue one frame; ``force`` writes past the backlog limit (a last error frame)."""
        protocol, transport = self._protocol, self._transport
        if protocol.close_sent or protocol.disconnected or transport.is_closing():
            return WriteResult.CLOSED
        if not force and transport.get_write_buffer_size() > MAX_UNWRITTEN_BYTES:
            return WriteResult.BACKLOGGED
        transport.write(frame_header(opcode, len(payload)) + payload)
        return WriteResult.WRITTEN

    def take_messages(self, taker: MessageTaker) -> None:
        """Offer every whole message to ``taker`` before uvicorn queues it for ASGI ``receive``.

        Through ASGI an intent costs websockets' frame parser, a queue put, a ``pause_reading``
        and a ``resume_reading`` (two epoll changes), a task wake-up and the consumer's lock. A
        message the taker declines, or any message while the ASGI queue still holds older ones
        (order), takes the usual way. Best: a ``ClientFrameReader`` in front of the parser (call
        this before the handshake is answered); else the message is offered once parsed.
        """
        protocol = self._protocol
        if ClientFrameReader.install(protocol, taker):
            return
        deliver_via_asgi = protocol.send_receive_event_to_app

        def offer() -> None:
            frames = protocol.frames
            if (
                len(frames) == 1
                and not protocol.close_sent
                and protocol.queue.empty()
                and taker(frames[0], protocol.curr_msg_data_type == "text")
            ):
                protocol.frames = []
                return
            deliver_via_asgi()

        protocol.send_receive_event_to_app = offer

    def abort(self) -> None:
        """Drop the TCP connection now, unwritten data included (uvicorn then reports the
        disconnect to the consumer as usual)."""
        self._transport.abort()


def _is_uvicorn_sansio(protocol: object) -> bool:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # another uvicorn version: stay on ASGI send
        return False
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return False
    # the private state both fast paths rely on (checked, so an upgrade that renames it falls
    # back to ASGI instead of failing)
    return all(
        hasattr(protocol, name)
        for name in ("close_sent", "disconnected", "frames", "curr_msg_data_type", "queue")
    )
