"""Messages between gateways and shards.

A gateway process holds WebSocket connections; a shard process owns zones and runs the
simulation. They exchange *batches*: a gateway sends one batch every few milliseconds to each
shard it talks to, and a shard sends one batch per tick to each gateway that hosts its players
(never one message per client per tick — see docs/architecture.md). In embedded mode the same
batches are handed over in memory; in production they travel over Redis pub/sub, msgpack-encoded.

Connection ids are ``"<gateway_id>/<n>"`` so a shard can group its output by gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# --- gateway -> shard ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attach:
    """Bind a connection to a character; the shard loads (or resumes) it."""

    conn_id: str
    character_id: int
    account_id: int
    epoch: int
    encoding: str  # "json" | "msgpack"
    transfer_token: str | None = None  # set when arriving through a zone hand-off


@dataclass(slots=True)  # not frozen, but never mutated: see below
class Intent:
    """A raw client frame, already size- and rate-checked by the gateway; the shard decodes it.

    One is made per client frame on each side (gateway and shard), thousands a second: a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) costs 2.5 times a plain one.
    """

    conn_id: str
    raw: bytes | str


@dataclass(frozen=True, slots=True)
class Detach:
    """The socket closed (or was taken over); the shard keeps the entity for the grace period."""

    conn_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Refresh:
    """Durable data of the connection's character changed elsewhere (equipment, GM): reload."""

    conn_id: str
    what: str


GatewayToShard = Attach | Intent | Detach | Refresh

# --- shard -> gateway ------------------------------------------------------------------------

ControlKind = Literal["close", "transfer"]


@dataclass(frozen=True, slots=True)
class Control:
    """Out-of-band instruction for one connection.

    ``close``: send ``payload`` (an encoded error/bye frame, may be empty) then close with ``code``.
    ``transfer``: the character left this shard for ``shard``; re-attach the connection there.
    """

    kind: ControlKind
    conn_id: str
    code: int = 1000
    payload: bytes | str = b""
    shard: str = ""
    character_id: int = 0
    transfer_token: str = ""


@dataclass(slots=True)
class ShardBatch:
    """Everything one shard has for one gateway in one tick."""

    shard: str
    # A frame may be a memoryview slice of the sim's tick buffer (valid during that tick only).
    frames: list[tuple[str, bytes | str | memoryview]] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)


def gateway_of(conn_id: str) -> str:
    return conn_id.partition("/")[0]


# --- wire encoding (production transport) ------------------------------------------------------


def encode_gateway_batch(gateway_id: str, items: list[GatewayToShard]) -> list[object]:
    wire: list[object] = []
    for item in items:
        if isinstance(item, Intent):
            wire.append(["i", item.conn_id, item.raw])
        elif isinstance(item, Attach):
            wire.append(
                [
                    "a",
                    item.conn_id,
                    item.character_id,
                    item.account_id,
                    item.epoch,
                    item.encoding,
                    item.transfer_token,
                ]
            )
        elif isinstance(item, Refresh):
            wire.append(["r", item.conn_id, item.what])
        else:
            wire.append(["d", item.conn_id, item.reason])
    return [gateway_id, wire]


def decode_gateway_batch(wire: list[object]) -> tuple[str, list[GatewayToShard]]:
    gateway_id, raw_items = wire
    items: list[GatewayToShard] = []
    for raw in raw_items:  # type: ignore[attr-defined]
        kind = raw[0]
        if kind == "i":
            items.append(Intent(raw[1], raw[2]))
        elif kind == "a":
            items.append(Attach(raw[1], raw[2], raw[3], raw[4], raw[5], raw[6]))
        elif kind == "d":
            items.append(Detach(raw[1], raw[2]))
        elif kind == "r":
            items.append(Refresh(raw[1], raw[2]))
    return str(gateway_id), items


def encode_shard_batch(batch: ShardBatch) -> list[object]:
    controls = [
        [c.kind, c.conn_id, c.code, c.payload, c.shard, c.character_id, c.transfer_token]
        for c in batch.controls
    ]
    return [batch.shard, batch.frames, controls]  # ormsgpack packs tuples and memoryviews


def decode_shard_batch(wire: list[object]) -> ShardBatch:
    shard, frames, controls = wire
    return ShardBatch(
        shard=str(shard),
        frames=[(pair[0], pair[1]) for pair in frames],  # type: ignore[attr-defined]
        controls=[Control(*raw) for raw in controls],  # type: ignore[attr-defined]
    )
