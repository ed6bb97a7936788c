"""The world gateway: one WebSocket consumer per game client (docs/protocol.md).

Thin by design: authenticate the ``hello`` frame's world ticket, bind the socket to its
character, check size and rate of every frame, hand raw frames to the owning shard, write the
shard's frames back. It never touches game rules. Tick frames reach the socket through the
process's ``GatewayHub``, not through the channel layer or a consumer handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from mmo_platform import metrics
from mmo_platform.logging import bind_connection
from worlds.runtime.frames import error_bytes
from worlds.runtime.hosting import get_hub
from worlds.runtime.messages import Attach, Refresh
from worlds.runtime.socket_writer import (
    MAX_UNWRITTEN_BYTES,
    OPCODE_BINARY,
    OPCODE_TEXT,
    SocketWriter,
    WriteResult,
)
from worlds.sim.codec import (
    MAX_FRAME_BYTES,
    FloodGuard,
    FloodVerdict,
    ProtocolError,
    decode_hello,
    encode_frame,
    error_frame_for,
)

logger = logging.getLogger(__name__)

HELLO_TIMEOUT_SECONDS = 10.0

CLOSE_PROTOCOL_ERROR = 4000
CLOSE_AUTH_FAILED = 4001
CLOSE_TAKEN_OVER = 4002
CLOSE_FLOOD = 4003
CLOSE_SLOW_CONSUMER = 4008
SLOW_CONSUMER_CLOSE_SECONDS = 5.0
# A close is bounded: a peer that reads nothing would hold uvicorn's close (it waits for the
# socket to drain) forever; past this the TCP connection is aborted.
CLOSE_SECONDS = 5.0
READER_STOP_SECONDS = 2.0
READER_RETRY_SECONDS = 1.0


# Keeps fire-and-forget tasks referenced until they finish (asyncio holds only weak refs).
_background: set[asyncio.Future[None]] = set()


async def _stop_reader(
    task: asyncio.Task[None], wake: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Cancel the channel-layer reader, waiting for it a bounded time.

    A cancel can get lost inside channels_redis: redis-py (8.x, on Python 3.11's
    ``asyncio.timeout``) may turn it into a read ``TimeoutError`` and retry the blocking pop.
    Seen under CPU load: the cancelled reader went on, and the socket's task, and with it a
    server shutdown, waited for it forever. The socket is gone either way; a reader that does
    not finish in time is woken by ``wake`` (a message to its own channel; it then sees
    ``closed`` and returns) and kept referenced until it ends.
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=READER_STOP_SECONDS)
    if not done:
        logger.warning("channel-layer reader did not stop within %.0f s", READER_STOP_SECONDS)
        if wake is not None:
            try:
                await wake()
            except Exception:
                logger.warning("could not wake the channel-layer reader", exc_info=True)
        _background.add(task)
        task.add_done_callback(_background.discard)
        return
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, StopConsumer):
            logger.error("channel-layer reader failed", exc_info=exc)


class HelloRejected(Exception):
    def __init__(self, code: str, message: str, close_code: int) -> None:
        super().__init__(message)
        self.code, self.message, self.close_code = code, message, close_code


class WorldConsumer(AsyncWebsocketConsumer):
    conn_id: str = ""
    shard: str = ""
    encoding: str = "json"
    character_id: int = 0
    account_id: int = 0
    epoch: int = 0
    last_receive: float = 0.0
    closed: bool = False
    _disconnected: bool = False
    _socket_writer: SocketWriter | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Read the socket in this task and channel-layer events in a second one.

        Channels' own loop (``await_many_dispatch``) creates a task and an ``asyncio.wait`` per
        message: at 10 intents/s from 1,000 clients that bookkeeping alone saturated the core
        (embedded N=1,000: RTT p99 7.8 s -> 0.35 s without it). Frames go straight to
        ``receive``, without Channels' close-old-connections hop (the hot path touches no
        database). Handlers of both sources still run one at a time (``_handler_lock``), as
        under Channels, so a takeover can never interleave with a half-done hello.
        """
        self.scope = scope
        self.base_send = send
        self._handler_lock = asyncio.Lock()
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        events: asyncio.Task[None] | None = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            events = asyncio.create_task(self._read_channel_layer())
        try:
            await self._read_socket(receive)
        except StopConsumer:
            pass
        except Exception:  # a handler failed (the peer vanished mid-close, a database error...)
            logger.exception("world connection %s failed", self.conn_id or "(before hello)")
        finally:
            if not self._disconnected:  # the socket ended without a disconnect message
                await self._disconnect_safely()
            if events is not None:
                await _stop_reader(events, self._wake_reader)

    async def _disconnect_safely(self) -> None:
        try:
            await self.disconnect(1006)
        except Exception:
            logger.exception("disconnect of %s failed", self.conn_id or "(before hello)")

    async def _wake_reader(self) -> None:
        assert self.channel_layer is not None
        await self.channel_layer.send(self.channel_name, {"type": "gateway.stop"})

    async def _read_socket(self, receive: Any) -> None:
        lock = self._handler_lock
        while True:
            message = await receive()
            async with lock:
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    await self.receive(text, None if text is not None else message.get("bytes"))
                else:  # connect / disconnect (disconnect raises StopConsumer)
                    await self.dispatch(message)

    async def _read_channel_layer(self) -> None:
        assert self.channel_layer is not None
        while not self.closed:
            try:
                event = await self.channel_layer.receive(self.channel_name)
            except Exception:  # Redis away: keep listening, a takeover or ban must still land
                logger.warning("channel-layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(READER_RETRY_SECONDS)
                continue
            if self.closed:  # the socket is gone: a late event has no one to act on
                return
            async with self._handler_lock:
                try:
                    await self.dispatch(event)
                except StopConsumer:
                    raise
                except Exception:  # one bad event must not leave the socket without a reader
                    logger.exception("channel-layer event %s failed", event.get("type"))

    async def connect(self) -> None:
        self.hub = get_hub()
        await self.hub.start()
        self.connection_kind = "embedded" if self.hub.bus is not None else "gateway"
        metrics.WS_CONNECTIONS.labels(kind=self.connection_kind).inc()
        self.flood = FloodGuard()
        self.attached = False
        self.closed = False
        self.last_receive = time.monotonic()
        # Before the accept: the client sends no frame until it has the handshake answer, so
        # the fast intake sees the stream from its first frame (ADR 0052).
        self._socket_writer = SocketWriter.for_asgi_send(self.base_send)
        if self._socket_writer is not None:
            self._socket_writer.take_messages(self.take_intent_now)
        await self.accept()
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw: str | bytes = text_data if text_data is not None else (bytes_data or b"")
        self.last_receive = time.monotonic()
        if len(raw) > MAX_FRAME_BYTES:
            await self._close_with_error(
                "frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes",
                CLOSE_PROTOCOL_ERROR,
            )  # fmt: skip
            return
        verdict = self.flood.check(self.last_receive)
        if verdict is FloodVerdict.DISCONNECT:
            await self._close_with_error("flood", "too many frames; disconnecting", CLOSE_FLOOD)
            return
        if verdict is FloodVerdict.DROP_AND_NOTIFY:
            await self._send_error("rate_limited", "too many frames per second; frames dropped")
        if verdict is not FloodVerdict.ALLOW:
            return
        if self.attached:
            if text_data is None and self.encoding == "json":
                # The mirror of msgpack's text check in the codec: each encoding has one kind
                # of WebSocket frame (docs/protocol.md, "Encodings").
                await self._close_with_error(
                    "bad_frame", "json frames must be text", CLOSE_PROTOCOL_ERROR
                )
                return
            self.hub.forward(self, raw)
            return
        await self._handle_hello(raw)

    def take_intent_now(self, data: bytes, is_text: bool) -> bool:
        """The common case of ``receive``, run inside the socket's read callback (ADR 0052): an
        attached connection's frame within size and rate goes to its shard at once. Anything
        else (the hello, a handler running, an oversized, flooding or non-ASCII text frame, text
        on a msgpack connection, binary on a JSON one) is declined and takes the ASGI way through
        ``receive``."""
        if not self.attached or self.closed or self._handler_lock.locked():
            return False
        if len(data) > MAX_FRAME_BYTES or (is_text and not data.isascii()):
            return False  # uvicorn checks text is UTF-8; ``receive`` answers the size
        if is_text != (self.encoding == "json"):
            return False  # the wrong kind of frame for the encoding: ``receive`` closes
        now = time.monotonic()
        if not self.flood.try_take(now):
            return False
        self.last_receive = now
        self.hub.forward(self, data)
        return True

    async def disconnect(self, code: int) -> None:
        if self._disconnected:
            return
        self._disconnected = True
        self.closed = True
        if hasattr(self, "connection_kind"):
            metrics.WS_CONNECTIONS.labels(kind=self.connection_kind).dec()
        timer = getattr(self, "_hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.attached:  # first, so the shard starts the reconnect grace at once
            self.attached = False
            self.hub.unregister(self, "disconnect")
        if self.account_id:
            try:
                await self.channel_layer.group_discard(
                    f"account-{self.account_id}", self.channel_name
                )
                await self.channel_layer.group_discard(
                    f"character-{self.character_id}", self.channel_name
                )
                await mark_disconnected(self.account_id, self.epoch)
            except Exception:  # bookkeeping only; the socket is gone either way
                logger.exception("disconnect bookkeeping failed for %s", self.conn_id)

    # --- handshake ---------------------------------------------------------------------------

    async def _handle_hello(self, raw: str | bytes) -> None:
        try:
            hello = decode_hello(raw)
        except ProtocolError as error:
            await self.close_with(
                CLOSE_PROTOCOL_ERROR, encode_frame(error_frame_for(error), "json")
            )
            return
        try:
            payload = await redeem_world_ticket(hello.ticket)
        except HelloRejected as rejected:
            await self._close_with_error(rejected.code, rejected.message, rejected.close_code)
            return
        self._hello_timer.cancel()
        self.encoding = hello.encoding
        self.character_id = int(payload["character_id"])
        self.account_id = int(payload["account_id"])
        self.epoch = int(payload.get("session_epoch", 0))
        self.shard = str(payload["shard"])
        self.conn_id = self.hub.new_conn_id()
        bind_connection(
            connection_id=self.conn_id, character_id=self.character_id, shard=self.shard
        )
        await self.channel_layer.group_add(f"account-{self.account_id}", self.channel_name)
        await self.channel_layer.group_add(f"character-{self.character_id}", self.channel_name)
        self.attached = True
        self.hub.register(self)

    async def _hello_timeout(self) -> None:
        if not self.attached and not self.closed:
            await self._close_with_error(
                "hello_timeout", "Send the hello frame first.", CLOSE_PROTOCOL_ERROR
            )

    # --- HubConnection -----------------------------------------------------------------------

    def attach_message(self, transfer_token: str | None) -> Attach:
        return Attach(
            self.conn_id,
            self.character_id,
            self.account_id,
            self.epoch,
            self.encoding,
            transfer_token,
        )

    def write_frame_now(self, payload: bytes | memoryview) -> bool:
        """Write a tick frame straight to the socket (ADR 0051); False: use ``send_frame``.

        A client with more than ``MAX_UNWRITTEN_BYTES`` unwritten is not reading its frames:
        it is closed (``slow_consumer``, 4008) instead of being buffered without bound.
        """
        return self._write(payload, OPCODE_TEXT if self.encoding == "json" else OPCODE_BINARY)

    def _write(self, payload: bytes | memoryview, opcode: int) -> bool:
        writer = self._socket_writer
        if writer is None or self.closed:
            return self.closed
        result = writer.write(payload, opcode)
        if result is WriteResult.BACKLOGGED:
            self._spawn(self._drop_slow_consumer(writer))
        return True

    async def _drop_slow_consumer(self, writer: SocketWriter) -> None:
        """Error frame and close 4008 queued behind the unread frames; abort the TCP connection
        if even the close cannot be written within ``SLOW_CONSUMER_CLOSE_SECONDS``."""
        if self.closed:
            return
        self.closed = True
        if self.attached:
            self.hub.unregister(self, "slow_consumer")
            self.attached = False
        message = f"over {MAX_UNWRITTEN_BYTES // 1024} KiB of frames left unread"
        error = error_bytes("slow_consumer", message, encoding=self.encoding)
        writer.write(error, OPCODE_TEXT if self.encoding == "json" else OPCODE_BINARY, force=True)
        await self._close_socket(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_CLOSE_SECONDS)

    async def _close_socket(self, code: int, within: float | None = None) -> None:
        """Close; abort the TCP connection if the close cannot be written in time."""
        try:
            await asyncio.wait_for(self.close(code), within or CLOSE_SECONDS)
        except Exception:  # timed out (the peer reads nothing), peer gone, or already closed
            if self._socket_writer is not None:
                self._socket_writer.abort()

    async def send_frame(self, payload: bytes | str) -> None:
        """JSON frames travel as WebSocket text, msgpack frames as binary (docs/protocol.md)."""
        if self.closed:
            return
        if self._socket_writer is not None:  # same path as tick frames, so order is kept
            if isinstance(payload, str):
                self._write(payload.encode(), OPCODE_TEXT)
            else:
                self.write_frame_now(payload)
            return
        if isinstance(payload, str):
            await self.base_send({"type": "websocket.send", "text": payload})
        elif self.encoding == "json":
            await self.base_send({"type": "websocket.send", "text": payload.decode()})
        else:
            await self.base_send({"type": "websocket.send", "bytes": payload})

    async def close_with(self, code: int, payload: bytes | str = b"") -> None:
        """Send ``payload`` (an error frame) and close; bounded by ``CLOSE_SECONDS`` each."""
        if self.closed:
            return
        if payload:
            try:
                await asyncio.wait_for(self.send_frame(payload), CLOSE_SECONDS)
            except Exception:  # the close below still happens (or the abort)
                logger.debug("error frame before close failed", exc_info=True)
        self.closed = True
        await self._close_socket(code)

    # --- channel-layer events (rare, out of band) --------------------------------------------

    async def session_takeover(self, event: dict[str, Any]) -> None:
        if int(event.get("epoch", 0)) <= self.epoch or self.closed:
            return
        self.hub.unregister(self, "taken_over")
        await self._close_with_error(
            "session_taken_over",
            "This account entered the world from another connection.",
            CLOSE_TAKEN_OVER,
        )

    async def account_restricted(self, event: dict[str, Any]) -> None:
        """A GM suspended or banned the account while it was in the world."""
        reason = str(event.get("reason") or "This account may no longer play.")
        await self._close_with_error("account_restricted", reason, CLOSE_AUTH_FAILED)

    async def gateway_stop(self, event: dict[str, Any]) -> None:
        """Wakes a channel-layer reader after the socket closed (``_stop_reader``); no-op."""

    async def character_changed(self, event: dict[str, Any]) -> None:
        """Equipment (or a GM) changed durable data: the shard reloads what the world uses."""
        if self.attached:
            self.hub.send_to_shard(self.shard, Refresh(self.conn_id, str(event.get("what", ""))))

    # --- helpers -----------------------------------------------------------------------------

    def _spawn(self, awaitable: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(awaitable)
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _send_error(self, code: str, message: str) -> None:
        await self.send_frame(error_bytes(code, message, encoding=self.encoding))

    async def _close_with_error(self, code: str, message: str, close_code: int) -> None:
        if self.attached:
            self.hub.unregister(self, code)
            self.attached = False
        await self.close_with(close_code, error_bytes(code, message, encoding=self.encoding))


@database_sync_to_async
def redeem_world_ticket(ticket: str) -> dict[str, Any]:
    """Consume the ticket and mark the world session connected (worlds.services)."""
    from worlds.services import world_ticket_redeem

    entry = world_ticket_redeem(ticket=ticket)
    if entry is None:
        raise HelloRejected(
            "auth_failed",
            "The world ticket is unknown, expired, already used or superseded; join again.",
            CLOSE_AUTH_FAILED,
        )
    return {
        "account_id": entry.account_id,
        "character_id": entry.character_id,
        "shard": entry.shard,
        "session_epoch": entry.session_epoch,
    }


@database_sync_to_async
def mark_disconnected(account_id: int, epoch: int) -> None:
    from worlds.services import world_session_disconnected

    world_session_disconnected(account_id=account_id, epoch=epoch)
