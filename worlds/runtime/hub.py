"""The gateway side of a process: every world WebSocket of this process, and the links to shards.

One ``GatewayHub`` per process. Shards send it one batch per tick; it writes each frame straight
to its socket (no channel-layer hop, no consumer-handler dispatch per frame), closes or re-routes
connections on the shard's say-so, and drops sockets that went silent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING, Protocol

from worlds.runtime.frames import error_bytes
from worlds.runtime.messages import Attach, Control, Detach, GatewayToShard, Intent, ShardBatch
from worlds.runtime.transport import (
    INTENT_FLUSH_WINDOW_SECONDS,
    LocalBus,
    LocalShardSender,
    RedisShardSender,
    ShardSender,
    listen_gateway_channel,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

SHARD_SILENCE_LIMIT_SECONDS = 6.0
WATCHDOG_PERIOD_SECONDS = 1.0
# Attach travels over pub/sub and may be lost (e.g. a shard restarting): re-send it, it is
# idempotent on the shard side.
ATTACH_RETRY_SECONDS = 2.0
SENDER_CLOSE_SECONDS = 2.0


class HubConnection(Protocol):
    """What the hub needs from a connection (implemented by the world consumer)."""

    conn_id: str
    shard: str
    encoding: str
    last_receive: float

    def write_frame_now(self, payload: bytes | memoryview) -> bool: ...

    async def send_frame(self, payload: bytes | str) -> None: ...

    async def close_with(self, code: int, payload: bytes | str = b"") -> None: ...

    def attach_message(self, transfer_token: str | None) -> Attach: ...


class GatewayHub:
    def __init__(
        self,
        *,
        bus: LocalBus | None = None,
        redis_client: aioredis.Redis | None = None,
        idle_timeout_seconds: float = 15.0,
        intent_flush_window: float = INTENT_FLUSH_WINDOW_SECONDS,
    ) -> None:
        if (bus is None) == (redis_client is None):
            raise ValueError("a hub talks to shards either in memory or over Redis")
        self.bus, self.redis = bus, redis_client
        self.gateway_id = f"gw-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.idle_timeout_seconds = idle_timeout_seconds
        self.intent_flush_window = intent_flush_window
        self.connections: dict[str, HubConnection] = {}
        self._senders: dict[str, ShardSender] = {}
        self._last_batch_from: dict[str, float] = {}
        # When each connection was (re)attached: a shard gets a fresh grace to answer a newcomer.
        self._attached_at: dict[str, float] = {}
        self._awaiting_welcome: dict[str, tuple[float, str | None]] = {}
        self._counter = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Future[None]] = set()
        self._started = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.bus is not None:
            self.bus.register_gateway(self.gateway_id, self.deliver)
        else:
            assert self.redis is not None
            ready = asyncio.Event()
            self._tasks.append(
                asyncio.create_task(
                    listen_gateway_channel(self.redis, self.gateway_id, self.deliver, ready)
                )
            )
            await asyncio.wait_for(ready.wait(), timeout=5)
        self._tasks.append(asyncio.create_task(self._watchdog()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._started = False
        # Detaches of the sockets that just closed may still be buffered: hand them over, but
        # a Redis that does not answer must not hold up the shutdown (reads never time out).
        flushes = asyncio.gather(*(sender.close() for sender in self._senders.values()))
        try:
            await asyncio.wait_for(flushes, SENDER_CLOSE_SECONDS)
        except TimeoutError:
            logger.warning("gateway %s: buffered items to shards were not sent", self.gateway_id)

    # --- connections -------------------------------------------------------------------------

    def new_conn_id(self) -> str:
        self._counter += 1
        return f"{self.gateway_id}/{self._counter}"

    def register(self, connection: HubConnection) -> None:
        self.connections[connection.conn_id] = connection
        self._attached_at[connection.conn_id] = time.monotonic()
        self._awaiting_welcome[connection.conn_id] = (time.monotonic(), None)
        self.sender(connection.shard).send(connection.attach_message(None))

    def forward(self, connection: HubConnection, raw: bytes | str) -> None:
        self.sender(connection.shard).send(Intent(connection.conn_id, raw))

    def unregister(self, connection: HubConnection, reason: str) -> None:
        self._attached_at.pop(connection.conn_id, None)
        self._awaiting_welcome.pop(connection.conn_id, None)
        if self.connections.pop(connection.conn_id, None) is not None:
            self.sender(connection.shard).send(Detach(connection.conn_id, reason))

    def sender(self, shard: str) -> ShardSender:
        sender = self._senders.get(shard)
        if sender is None:
            if self.bus is not None:
                sender = LocalShardSender(self.bus, shard, self.gateway_id)
            else:
                assert self.redis is not None
                sender = RedisShardSender(
                    self.redis, shard, self.gateway_id, flush_window=self.intent_flush_window
                )
            self._senders[shard] = sender
        return sender

    def send_to_shard(self, shard: str, item: GatewayToShard) -> None:
        self.sender(shard).send(item)

    # --- shard -> clients --------------------------------------------------------------------

    async def deliver(self, batch: ShardBatch) -> None:
        self._last_batch_from[batch.shard] = time.monotonic()
        connections = self.connections
        awaiting = self._awaiting_welcome
        for conn_id, payload in batch.frames:
            connection = connections.get(conn_id)
            if connection is not None:
                if awaiting:
                    awaiting.pop(conn_id, None)
                if not isinstance(payload, str):
                    if connection.write_frame_now(payload):
                        continue
                    payload = bytes(payload)  # ASGI needs bytes; a tick-buffer slice is a view
                try:
                    await connection.send_frame(payload)
                except Exception:  # a socket dying mid-write must not stop the others' frames
                    logger.debug("send to %s failed", conn_id, exc_info=True)
        for control in batch.controls:
            await self._apply_control(control)

    async def _apply_control(self, control: Control) -> None:
        connection = self.connections.get(control.conn_id)
        if connection is None:
            return
        if control.kind == "close":
            self.connections.pop(control.conn_id, None)
            self._attached_at.pop(control.conn_id, None)
            self._close_soon(connection, control.code, control.payload)
        elif control.kind == "transfer":
            connection.shard = control.shard
            self._attached_at[control.conn_id] = time.monotonic()
            self._awaiting_welcome[control.conn_id] = (time.monotonic(), control.transfer_token)
            self.sender(control.shard).send(connection.attach_message(control.transfer_token))

    def _close_soon(self, connection: HubConnection, code: int, payload: bytes | str) -> None:
        """Close in a task of its own: a peer that reads nothing must not hold up the other
        clients' frames (or, embedded, the shard's tick) while its close times out."""
        task = asyncio.ensure_future(connection.close_with(code, payload))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # --- liveness ----------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD_SECONDS)
            try:
                await self._close_idle_and_orphaned()
            except Exception:
                logger.exception("gateway watchdog failed")

    async def _close_idle_and_orphaned(self) -> None:
        now = time.monotonic()
        for shard in {connection.shard for connection in self.connections.values()}:
            self.sender(shard).keepalive()
        for conn_id, (since, token) in list(self._awaiting_welcome.items()):
            connection = self.connections.get(conn_id)
            if connection is not None and now - since >= ATTACH_RETRY_SECONDS:
                self._awaiting_welcome[conn_id] = (now, token)
                self.sender(connection.shard).send(connection.attach_message(token))
        for connection in list(self.connections.values()):
            if now - connection.last_receive > self.idle_timeout_seconds:
                self.unregister(connection, "idle")
                frame = error_bytes(
                    "idle_timeout", "no frame received in time", encoding=connection.encoding
                )
                self._close_soon(connection, 4004, frame)
                continue
            heard = max(
                self._last_batch_from.get(connection.shard, 0.0),
                self._attached_at.get(connection.conn_id, now),
            )
            silent_for = now - heard
            if silent_for > SHARD_SILENCE_LIMIT_SECONDS:
                self.unregister(connection, "shard_lost")
                frame = error_bytes(
                    "shard_unavailable",
                    "the world server stopped answering; join again",
                    encoding=connection.encoding,
                )
                self._close_soon(connection, 4006, frame)
