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
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from worlds.runtime.flood import FloodGuard, FloodVerdict
from worlds.runtime.frames import error_frame
from worlds.runtime.hosting import get_hub
from worlds.runtime.messages import Attach

logger = logging.getLogger(__name__)

SUPPORTED_PROTOCOL_VERSIONS = (1,)
SUPPORTED_ENCODINGS = ("json", "msgpack")
MAX_FRAME_BYTES = 2048
HELLO_TIMEOUT_SECONDS = 10.0

CLOSE_PROTOCOL_ERROR = 4000
CLOSE_AUTH_FAILED = 4001
CLOSE_TAKEN_OVER = 4002
CLOSE_FLOOD = 4003


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

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections (a thread hop) before every handler; frames on the
        # hot path touch no database, so they skip it.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        self.hub = get_hub()
        await self.hub.start()
        self.flood = FloodGuard()
        self.attached = False
        self.closed = False
        self.last_receive = time.monotonic()
        await self.accept()
        self._hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw: str | bytes = text_data if text_data is not None else (bytes_data or b"")
        self.last_receive = time.monotonic()
        if len(raw) > MAX_FRAME_BYTES:
            await self._send_error("frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
            return
        verdict = self.flood.hit(self.last_receive)
        if verdict is FloodVerdict.DISCONNECT:
            await self._close_with_error("flood", "Too many frames; disconnecting.", CLOSE_FLOOD)
            return
        if verdict is FloodVerdict.REJECT:
            await self._send_error("rate_limited", "Too many frames per second; frame dropped.")
            return
        if self.attached:
            self.hub.forward(self, raw)
            return
        await self._handle_hello(raw)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        timer = getattr(self, "_hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.attached:
            self.hub.unregister(self, "disconnect")
            await self.channel_layer.group_discard(f"account-{self.account_id}", self.channel_name)

    # --- handshake ---------------------------------------------------------------------------

    async def _handle_hello(self, raw: str | bytes) -> None:
        try:
            hello = parse_hello(raw)
            payload = await consume_world_ticket(hello["ticket"])
            await check_may_enter(payload)
        except HelloRejected as rejected:
            await self._close_with_error(rejected.code, rejected.message, rejected.close_code)
            return
        self._hello_timer.cancel()
        self.encoding = hello["enc"]
        self.character_id = int(payload["character_id"])
        self.account_id = int(payload["account_id"])
        self.epoch = int(payload.get("session_epoch", 0))
        self.shard = str(payload["shard"])
        self.conn_id = self.hub.new_conn_id()
        await self.channel_layer.group_add(f"account-{self.account_id}", self.channel_name)
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

    async def send_frame(self, payload: bytes | str) -> None:
        if self.closed:
            return
        if isinstance(payload, bytes):
            await self.base_send({"type": "websocket.send", "bytes": payload})
        else:
            await self.base_send({"type": "websocket.send", "text": payload})

    async def close_with(self, code: int, payload: bytes | str = b"") -> None:
        if self.closed:
            return
        if payload:
            await self.send_frame(payload)
        self.closed = True
        await self.close(code)

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

    async def character_changed(self, event: dict[str, Any]) -> None:
        """Economy and GM changes are read by the shard on its own schedule; nothing to do here."""

    # --- helpers -----------------------------------------------------------------------------

    async def _send_error(self, code: str, message: str) -> None:
        await self.send_frame(error_frame(code, message, encoding=self.encoding))

    async def _close_with_error(self, code: str, message: str, close_code: int) -> None:
        if self.attached:
            self.hub.unregister(self, code)
            self.attached = False
        await self.close_with(close_code, error_frame(code, message, encoding=self.encoding))


def parse_hello(raw: str | bytes) -> dict[str, Any]:
    """Validate the first frame: ``{"t": "hello", "v": 1, "enc": "json", "ticket": "..."}``."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HelloRejected("malformed", "The hello frame must be JSON.", CLOSE_PROTOCOL_ERROR) from None
    if not isinstance(frame, dict) or frame.get("t") != "hello":
        raise HelloRejected("hello_expected", "Send the hello frame first.", CLOSE_PROTOCOL_ERROR)
    version = frame.get("v")
    if version not in SUPPORTED_PROTOCOL_VERSIONS or isinstance(version, bool):
        raise HelloRejected(
            "unsupported_version",
            f"Protocol version {version!r} is not supported; supported: "
            f"{list(SUPPORTED_PROTOCOL_VERSIONS)}.",
            CLOSE_PROTOCOL_ERROR,
        )
    encoding = frame.get("enc", "json")
    if encoding not in SUPPORTED_ENCODINGS:
        raise HelloRejected(
            "unsupported_encoding", f"Encoding must be one of {list(SUPPORTED_ENCODINGS)}.",
            CLOSE_PROTOCOL_ERROR,
        )  # fmt: skip
    ticket = frame.get("ticket")
    if not isinstance(ticket, str):
        raise HelloRejected("ticket_required", "The hello frame needs a ticket.", CLOSE_AUTH_FAILED)
    return {"v": version, "enc": encoding, "ticket": ticket}


async def consume_world_ticket(ticket: str) -> dict[str, Any]:
    from accounts.tickets import ticket_consume

    payload = await sync_to_async(ticket_consume, thread_sensitive=False)(
        purpose="world", ticket=ticket
    )
    if payload is None:
        raise HelloRejected(
            "invalid_ticket",
            "The world ticket is unknown, expired or already used; join again.",
            CLOSE_AUTH_FAILED,
        )
    return payload


@database_sync_to_async
def check_may_enter(payload: dict[str, Any]) -> None:
    from accounts.models import User
    from worlds.selectors import world_session_is_current

    user = User.objects.filter(pk=payload.get("account_id")).first()
    refusal = "This account no longer exists." if user is None else user.standing_refusal()
    if refusal:
        raise HelloRejected("account_restricted", refusal, CLOSE_AUTH_FAILED)
    if not world_session_is_current(
        account_id=int(payload["account_id"]), epoch=int(payload.get("session_epoch", 0))
    ):
        raise HelloRejected(
            "session_taken_over",
            "A newer session for this account exists; join again.",
            CLOSE_TAKEN_OVER,
        )
