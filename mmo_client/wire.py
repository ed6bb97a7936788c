"""A lean WebSocket client connection (RFC 6455) on an asyncio ``Protocol``.

Why not the ``websockets`` library's asyncio client: a load-test bot receives 20 frames/s and
sends 10, and a bot process runs hundreds of them. Per message, that client goes through a
frame parser generator, an assembler, a queue, an async iterator and, when sending, an async
context manager and a lock: profiled, the bots used as much CPU as the server they measured.
Here a frame costs a header decode and one callback, and a send one ``transport.write``.

Scope, deliberately small: ws:// and wss:// URLs, no extensions (no per-message deflate), no
subprotocols. Messages are delivered as ``bytes`` with a flag saying whether the frame was
text; text is not UTF-8-checked until the caller decodes it (orjson does, and refuses bad
UTF-8). Pings are answered; a close frame is echoed and ends the connection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

try:  # the C helper that ships with websockets: ~30x faster than the Python fallback
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets is a dependency, speedups almost always built

    def _apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
        repeated = (mask * (len(data) // 4 + 1))[: len(data)]
        return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
            len(data), "big"
        )


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_FIN = 0x80
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_ABNORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1000, 1006, 1002, 1009
MAX_HANDSHAKE_BYTES = 16 * 1024

MessageHandler = Callable[[bytes, bool], None]  # (payload, is_text)


class HandshakeFailed(Exception):
    """The server did not upgrade the connection (``status`` is its HTTP status, 0 if none)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ConnectionLost(Exception):
    """Sending on a connection that is closing or closed."""


class WireProtocol(asyncio.Protocol):
    """One client WebSocket connection: the handshake, then frames in both directions."""

    def __init__(self, url: str, on_message: MessageHandler, max_size: int) -> None:
        parts = urlsplit(url)
        self._host_header = parts.netloc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._key = base64.b64encode(os.urandom(16))
        self._on_message = on_message
        self._max_size = max_size
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._handshaking = True
        self._fragments: list[bytes] = []
        self._fragment_is_text = False
        self._writable: asyncio.Future[None] | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()
        self.close_sent = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.failure: BaseException | None = None  # the message handler raised this

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        request = (
            f"GET {self._path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self._transport.write(request.encode("latin-1"))

    def data_received(self, data: bytes) -> None:
        if self._handshaking:
            self._buffer += data
            data = self._finish_handshake()
            if self._handshaking or not data:
                return
        if self._buffer:
            self._buffer += data
            consumed = self._parse_frames(self._buffer)
            del self._buffer[:consumed]
        else:  # the common case: whole frames in one read, parsed without copying into a buffer
            consumed = self._parse_frames(data)
            if consumed < len(data):
                self._buffer += data[consumed:]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = CLOSE_ABNORMAL
        if not self.opened.done():
            self.opened.set_exception(
                HandshakeFailed(0, f"connection closed during the handshake: {exc or 'EOF'}")
            )
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if not self.finished.done():
            self.finished.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # --- sending -----------------------------------------------------------------------------

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.send_frame(OP_TEXT, data.encode("utf-8"))
        else:
            self.send_frame(OP_BINARY, data)
        await self.drained()

    async def drained(self) -> None:
        """Wait while the transport's buffer is over its high-water mark (a stream's drain)."""
        if self._writable is not None and not self._writable.done():
            await self._writable

    def send_frame(self, opcode: int, payload: bytes) -> None:
        transport = self._transport
        if transport is None or self.close_sent or transport.is_closing():
            raise ConnectionLost(f"the connection is closed ({self.close_code or 'closing'})")
        transport.write(_client_frame(opcode, payload))

    async def close(self, code: int = CLOSE_NORMAL, timeout: float = 5.0) -> None:
        """Send a close frame, wait for the server's (or for it to drop the TCP connection)."""
        if self._transport is None:
            return
        if not self.close_sent and not self._transport.is_closing():
            self.send_frame(OP_CLOSE, struct.pack("!H", code))
            self.close_sent = True
        try:
            await asyncio.wait_for(asyncio.shield(self.finished), timeout)
        except TimeoutError:
            self._transport.abort()
            await self.finished

    # --- receiving ---------------------------------------------------------------------------

    def _finish_handshake(self) -> bytes:
        """Check the 101 answer once its headers are in; returns the bytes after them."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HANDSHAKE_BYTES:
                self._fail_handshake(0, "handshake response too large")
            return b""
        head, rest = bytes(self._buffer[:end]), bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        status_line, _, header_text = head.partition(b"\r\n")
        status = _status_of(status_line)
        headers = _parse_headers(header_text)
        if status != 101:
            self._fail_handshake(status, f"server rejected WebSocket connection: HTTP {status}")
            return b""
        # SHA-1 is what RFC 6455 prescribes for the accept value; it protects nothing here.
        digest = hashlib.sha1(self._key + _GUID, usedforsecurity=False).digest()
        expected = base64.b64encode(digest)
        if headers.get(b"sec-websocket-accept") != expected:
            self._fail_handshake(status, "bad Sec-WebSocket-Accept in the handshake response")
            return b""
        self._handshaking = False
        self.opened.set_result(None)
        return rest

    def _fail_handshake(self, status: int, message: str) -> None:
        self._handshaking = False
        if not self.opened.done():
            self.opened.set_exception(HandshakeFailed(status, message))
        assert self._transport is not None
        self._transport.abort()

    def _parse_frames(self, data: bytes | bytearray) -> int:
        """Handle every complete frame in ``data``; returns how many bytes they took."""
        offset, size = 0, len(data)
        while size - offset >= 2:
            first, second = data[offset], data[offset + 1]
            length, header = second & 0x7F, 2
            if length == 126:
                if size - offset < 4:
                    break
                (length,) = struct.unpack_from("!H", data, offset + 2)
                header = 4
            elif length == 127:
                if size - offset < 10:
                    break
                (length,) = struct.unpack_from("!Q", data, offset + 2)
                header = 10
            if second & 0x80:
                self._protocol_error(CLOSE_PROTOCOL_ERROR, "the server masked a frame")
                return size
            if length > self._max_size:
                self._protocol_error(CLOSE_TOO_BIG, f"frame of {length} bytes")
                return size
            end = offset + header + length
            if end > size:
                break
            self._on_frame(first, bytes(data[offset + header : end]))
            offset = end
            if self._transport is None or self._transport.is_closing():
                return size
        return offset

    def _on_frame(self, first: int, payload: bytes) -> None:
        opcode, final = first & 0x0F, bool(first & _FIN)
        if opcode in (OP_TEXT, OP_BINARY):
            if final:
                self._deliver(payload, opcode == OP_TEXT)
            else:
                self._fragments, self._fragment_is_text = [payload], opcode == OP_TEXT
        elif opcode == OP_CONTINUATION:
            self._fragments.append(payload)
            if final:
                whole, self._fragments = b"".join(self._fragments), []
                self._deliver(whole, self._fragment_is_text)
        elif opcode == OP_CLOSE:
            self._on_close_frame(payload)
        elif opcode == OP_PING:
            if not self.close_sent:
                self.send_frame(OP_PONG, payload)
        elif opcode != OP_PONG:
            self._protocol_error(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")

    def _deliver(self, payload: bytes, is_text: bool) -> None:
        try:
            self._on_message(payload, is_text)
        except Exception as error:  # the caller's handler: stop, and let the owner see why
            self.failure = error
            assert self._transport is not None
            self._transport.abort()

    def _on_close_frame(self, payload: bytes) -> None:
        if len(payload) >= 2:
            (self.close_code,) = struct.unpack_from("!H", payload)
            self.close_reason = payload[2:].decode("utf-8", "replace")
        else:
            self.close_code = 1005  # no status code present
        assert self._transport is not None
        if not self.close_sent:  # echo the close (RFC 6455 5.5.1), then the server hangs up
            self._transport.write(_client_frame(OP_CLOSE, payload[:2]))
            self.close_sent = True
        self._transport.close()

    def _protocol_error(self, code: int, reason: str) -> None:
        assert self._transport is not None
        if not self.close_sent:
            self._transport.write(_client_frame(OP_CLOSE, struct.pack("!H", code)))
            self.close_sent = True
        self.close_code, self.close_reason = code, reason
        self._transport.close()


async def open_connection(
    url: str, on_message: MessageHandler, *, max_size: int = 2**22, timeout: float = 10.0
) -> WireProtocol:
    """Connect to a ws:// or wss:// URL and finish the opening handshake."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("ws", "wss") or not host:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    loop = asyncio.get_running_loop()

    async def connect() -> WireProtocol:
        _, protocol = await loop.create_connection(
            lambda: WireProtocol(url, on_message, max_size),
            host,
            port,
            ssl=ssl.create_default_context() if secure else None,
        )
        await protocol.opened
        return protocol

    return await asyncio.wait_for(connect(), timeout)


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (clients must mask, RFC 6455 section 5.3)."""
    mask, length = os.urandom(4), len(payload)
    if length < 126:
        header = struct.pack("!BB", _FIN | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", _FIN | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", _FIN | opcode, 0x80 | 127, length)
    return header + mask + _apply_mask(payload, mask)


def _status_of(status_line: bytes) -> int:
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return 0
    return int(parts[1])


def _parse_headers(text: bytes) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    for line in text.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return headers
