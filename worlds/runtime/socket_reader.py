"""Client intents read straight from the socket's bytes, before uvicorn parses them (ADR 0052).

uvicorn's ``websockets-sansio`` protocol parses every client frame with websockets' generator
based parser and hands the message to the app through an ``asyncio.Queue`` (pausing and resuming
the socket's reading around each). At 10 intents/s per player that parser alone was a tenth of
the gateway's CPU. This reader sits in front of that parser (it replaces the websockets
connection's ``receive_data``, which uvicorn's ``data_received`` calls; ``data_received`` itself
cannot be replaced, uvloop binds it when the connection opens):

- it splits the byte stream into whole frames itself (a partial frame waits for its rest, so the
  protocol behind only ever sees whole frames and stays aligned);
- a plain data frame (final, unfragmented, text or binary, masked as client frames must be) is
  unmasked and offered to the taker (the consumer's fast intake); taken, it goes no further;
- everything else (control frames, fragments, declined or malformed frames, anything after a
  close) is handed to uvicorn's own ``data_received`` unchanged and in order, which answers it
  exactly as without this reader. A frame header announcing more than ``PASSTHROUGH_BYTES``, or
  any protocol violation, makes the reader step aside for good.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from websockets.speedups import apply_mask

# (payload, is_text) -> True when taken; False: deliver it the ASGI way
MessageTaker = Callable[[bytes, bool], bool]

# Larger frames are never intents (the gateway refuses over 4 KiB): let the protocol behind
# buffer and judge them, and stop looking at this stream.
PASSTHROUGH_BYTES = 64 * 1024

_FIN_NO_RSV = 0x80
_OPCODE_TEXT, _OPCODE_BINARY = 0x1, 0x2


class ClientFrameReader:
    """Installed on one uvicorn ``websockets-sansio`` connection before any frame arrives."""

    __slots__ = ("_deliver", "_passthrough", "_pending", "_protocol", "_taker")

    def __init__(self, protocol: Any, taker: MessageTaker) -> None:
        self._protocol = protocol
        self._taker = taker
        self._deliver: Callable[[bytes], None] = protocol.conn.receive_data
        self._pending = bytearray()
        self._passthrough = False

    @classmethod
    def install(cls, protocol: Any, taker: MessageTaker) -> bool:
        """Put a reader in front of ``protocol``; False when its parser already holds bytes
        (a client that sent frames before the handshake answer), so alignment is unknown."""
        connection: Any = getattr(protocol, "conn", None)
        buffered = getattr(getattr(connection, "reader", None), "buffer", None)
        if buffered is None or len(buffered) or not hasattr(connection, "events"):
            return False
        connection.receive_data = cls(protocol, taker).data_received
        return True

    def data_received(self, data: bytes) -> None:
        if self._passthrough or self._protocol.close_sent:
            if self._pending:  # a partial frame from before: its rest is in ``data``
                data, self._pending = bytes(self._pending) + data, bytearray()
            self._step_aside(data)
            return
        if self._pending:
            self._pending += data
            consumed = self._split(self._pending)
            del self._pending[:consumed]
        else:
            consumed = self._split(data)
            if consumed < len(data):
                self._pending += data[consumed:]

    def _split(self, buffer: bytes | bytearray) -> int:
        """Handle every whole frame in ``buffer``; returns the bytes they took."""
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            second = buffer[offset + 1]
            length, header = second & 0x7F, 6  # 2 bytes + the 4-byte mask
            if length == 126:
                if size - offset < 8:
                    break
                (length,) = struct.unpack_from("!H", buffer, offset + 2)
                header = 8
            elif length == 127 or not second & 0x80:  # huge, or unmasked (a violation)
                self._step_aside(bytes(buffer[offset:]))
                return size
            if length > PASSTHROUGH_BYTES:
                self._step_aside(bytes(buffer[offset:]))
                return size
            end = offset + header + length
            if end > size:
                break
            if not self._take(buffer, offset, header, end):
                self._deliver(bytes(buffer[offset:end]))
                if self._protocol.close_sent:
                    self._step_aside(bytes(buffer[end:]))
                    return size
            offset = end
        return offset

    def _take(self, buffer: bytes | bytearray, offset: int, header: int, end: int) -> bool:
        first = buffer[offset]
        opcode = first & 0x0F
        if first & 0xF0 != _FIN_NO_RSV or opcode not in (_OPCODE_TEXT, _OPCODE_BINARY):
            return False
        protocol = self._protocol
        # Not past a fragment being assembled, older frames parsed but not yet handled (uvicorn
        # handles them after this call returns), or messages queued for the consumer.
        if protocol.frames or protocol.conn.events or not protocol.queue.empty():
            return False
        mask = bytes(buffer[offset + header - 4 : offset + header])
        payload = apply_mask(buffer[offset + header : end], mask)
        return self._taker(payload, opcode == _OPCODE_TEXT)

    def _step_aside(self, data: bytes) -> None:
        """From here on every byte goes to the protocol behind, starting with ``data``."""
        self._passthrough = True
        if data:
            self._deliver(data)
