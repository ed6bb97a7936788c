"""WebSocket side of the client (docs/protocol.md): hello, intents with sequence numbers,
one frame per tick back, acks for reconciliation and RTT.

For load tests a bot may decode only one frame in ``decode_every`` (it still receives all);
input acks are read from every frame's prefix without a full decode, so RTT stays exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
import ormsgpack

from mmo_client.wire import OP_BINARY, OP_TEXT, ConnectionLost, WireProtocol, open_connection

_ACK_PREFIX = re.compile(rb'"ack":(-?\d+)')


class WorldClosed(Exception):
    def __init__(self, code: int | None, reason: str, last_error: dict[str, Any] | None) -> None:
        super().__init__(f"closed {code}: {reason} {last_error or ''}")
        self.code, self.reason, self.last_error = code, reason, last_error


class WorldClient:
    def __init__(
        self,
        url: str,
        ticket: str,
        *,
        encoding: str = "json",
        decode_every: int = 1,
        version: int = 1,
        on_frame: Callable[[dict[str, Any]], None] | None = None,
        track_entities: bool = False,
    ) -> None:
        self.url, self.ticket, self.encoding, self.version = url, ticket, encoding, version
        self.decode_every = max(1, decode_every)
        self.on_frame = on_frame
        # Other entities as this client sees them (id -> fields, with x/y from ``upd``), kept
        # from the very first frame when ``track_entities`` (tests, behaviours).
        self.track_entities = track_entities
        self.entities: dict[int, dict[str, Any]] = {}
        # Called after ``on_frame`` with every decoded frame; behaviours (``Walker``) listen here
        # so that a test may still set ``on_frame`` freely.
        self.frame_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.seq = 0
        self.acked = 0
        self.frames_received = 0
        self.bytes_received = 0
        self.welcome: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.bye: dict[str, Any] | None = None
        self.rtts: list[float] = []
        self.last_frame: dict[str, Any] | None = None
        self._sent_at: dict[int, float] = {}
        self._socket: WireProtocol | None = None
        self._reader: asyncio.Task[None] | None = None
        self._welcomed = asyncio.Event()
        self.closed: WorldClosed | None = None

    # --- connection --------------------------------------------------------------------------

    async def connect(self, *, timeout: float = 10.0) -> dict[str, Any]:
        """Open the socket, say hello, and wait for the welcome frame."""
        self._socket = await open_connection(
            self.url, self._on_wire_message, max_size=2**22, timeout=timeout
        )
        self._reader = asyncio.create_task(self._read(self._socket))
        hello = {"t": "hello", "v": self.version, "enc": self.encoding, "ticket": self.ticket}
        await self._socket.send(orjson.dumps(hello).decode())
        waiter = asyncio.create_task(self._welcomed.wait())
        done, _ = await asyncio.wait(
            {waiter, self._reader}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if waiter not in done:
            waiter.cancel()
            if self.closed is not None:
                raise self.closed
            raise TimeoutError("no welcome frame")
        assert self.welcome is not None
        return self.welcome

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, WorldClosed):
                await asyncio.wait_for(self._reader, timeout=5)

    async def wait_closed(self, timeout: float = 10.0) -> WorldClosed:
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        assert self.closed is not None
        return self.closed

    # --- sending -----------------------------------------------------------------------------

    async def send(self, kind: str, **fields: Any) -> int:
        """Send an intent; returns its sequence number."""
        seq = self.send_now(kind, **fields)
        await self._connected().drained()
        return seq

    def send_now(self, kind: str, **fields: Any) -> int:
        """Send an intent without waiting for a full socket buffer to drain (many bots on one
        event loop); returns its sequence number. ``ConnectionLost`` once closed."""
        socket = self._connected()
        self.seq += 1
        frame = {"t": kind, "seq": self.seq, **fields}
        self._sent_at[self.seq] = time.perf_counter()
        if self.encoding == "msgpack":
            socket.send_frame(OP_BINARY, ormsgpack.packb(frame))
        else:  # JSON travels as text; orjson's bytes are UTF-8 already
            socket.send_frame(OP_TEXT, orjson.dumps(frame))
        return self.seq

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame as is (str: a text frame); ``ConnectionLost`` once closed."""
        await self._connected().send(data)

    def _connected(self) -> WireProtocol:
        if self._socket is None:
            raise ConnectionLost("not connected")
        return self._socket

    # --- receiving ---------------------------------------------------------------------------

    async def _read(self, socket: WireProtocol) -> None:
        """Frames arrive through ``_on_wire_message`` as they are read; this task ends with the
        connection, and raises what a frame handler raised, if one did."""
        try:
            await socket.finished
        finally:
            last_error = self.errors[-1] if self.errors else None
            self.closed = WorldClosed(socket.close_code, socket.close_reason, last_error)
        if socket.failure is not None:
            raise socket.failure

    def _on_wire_message(self, payload: bytes, is_text: bool) -> None:
        self._on_message(payload)

    def _on_message(self, message: str | bytes) -> None:
        self.frames_received += 1
        raw = message.encode() if isinstance(message, str) else message
        self.bytes_received += len(raw)
        must_decode = self.welcome is None or self.frames_received % self.decode_every == 0
        if not must_decode and self.encoding == "json":
            match = _ACK_PREFIX.search(raw, 0, 96)
            if match is not None:
                self._record_ack(int(match.group(1)))
                return
        frame = ormsgpack.unpackb(raw) if self.encoding == "msgpack" else orjson.loads(raw)
        self._on_frame(frame)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind == "welcome":
            self.welcome = frame
            self._welcomed.set()
        elif kind == "error":
            self.errors.append(frame)
        elif kind == "bye":
            self.bye = frame
        ack = frame.get("ack")
        if isinstance(ack, int):
            self._record_ack(ack)
        for event in frame.get("ev", ()) or ():
            if isinstance(event, dict) and event.get("e") == "error":
                self.errors.append(event)
        self.last_frame = frame
        if self.track_entities:
            self._track(frame)
        if self.on_frame is not None:
            self.on_frame(frame)
        for listener in self.frame_listeners:
            listener(frame)

    def _track(self, frame: dict[str, Any]) -> None:
        if frame.get("t") == "welcome" or any(
            isinstance(e, dict) and e.get("e") == "zone" for e in frame.get("ev", ()) or ()
        ):
            self.entities.clear()
        for entity in frame.get("enter", ()) or ():
            self.entities[entity["id"]] = dict(entity)
        for entity_id, x, y, facing in frame.get("upd", ()) or ():
            self.entities.setdefault(entity_id, {}).update({"x": x, "y": y, "f": facing})
        for change in frame.get("chg", ()) or ():
            self.entities.setdefault(change["id"], {}).update(change)
        for entity_id in frame.get("leave", ()) or ():
            self.entities.pop(entity_id, None)

    def _record_ack(self, ack: int) -> None:
        if ack <= self.acked:
            return
        now = time.perf_counter()
        sent_at = self._sent_at
        # Sequence numbers are sent in increasing order, so the dict is ordered by seq.
        while sent_at:
            seq = next(iter(sent_at))
            if seq > ack:
                break
            self.rtts.append(now - sent_at.pop(seq))
        self.acked = ack
