"""Client intents: what a player asks the server to do, already decoded and shape-checked.

``codec.decode_client_frame`` turns a WebSocket frame into one of these (or a ``ClientHello``);
``ShardSim.submit`` queues it for the next tick. Every intent carries ``seq``, a per-connection
counter that must increase (1, 2, 3, ...; gaps are fine); the server echoes the highest seq it
has processed as ``ack`` in tick frames.

Movement model (ADR 0020): the client moves its own character at once (prediction) and sends
``MoveIntent`` with the position it reached, at most once per tick while moving. The server
accepts it only if the step is possible: within the distance credit that grows at max speed,
inside the map, over walkable tiles all along the segment, with a client clock that does not run
ahead. Otherwise the server answers with a correction (``you.cor``) holding the authoritative
position and a new correction id; the client snaps back and tags later moves with that id, and
moves tagged with an older id are dropped unprocessed (they were based on the wrong position).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

CHAT_CHANNELS = frozenset({"say", "zone"})
# Intent types reserved for later issues; the codec answers them with ``unknown_intent``.
RESERVED_INTENTS = frozenset(
    {
        "attack",
        "cast",
        "loot",
        "interact",
        "trade_request",
        "trade_offer",
        "trade_accept",
        "trade_cancel",
    }
)


class MoveIntent(NamedTuple):
    """I am now at (x, y). ``ct`` is the client clock in ms; ``cid`` the last correction applied.

    A NamedTuple rather than a dataclass: thousands arrive per tick, and the zone turns a tick's
    moves into arrays straight from the tuples."""

    seq: int
    x: float
    y: float
    ct: float
    cid: int = 0


@dataclass(frozen=True, slots=True)
class StopIntent:
    """I stopped walking (viewers switch the character to its idle animation)."""

    seq: int


@dataclass(frozen=True, slots=True)
class FaceIntent:
    """Turn to ``facing``: 0 = north (up), then clockwise in steps of 45 degrees up to 7."""

    seq: int
    facing: int


@dataclass(frozen=True, slots=True)
class ChatIntent:
    """Say ``text``: channel "say" reaches everyone who sees me, "zone" the whole zone."""

    seq: int
    channel: str
    text: str


@dataclass(frozen=True, slots=True)
class EmoteIntent:
    seq: int
    emote: str


@dataclass(frozen=True, slots=True)
class PingIntent:
    """Heartbeat. ``ct`` is echoed in the pong. ``echo``/``held`` return the previous pong's
    server time and how long the client held it (ms), from which the server computes the RTT
    on its own clock."""

    seq: int
    ct: float
    echo: float | None = None
    held: float | None = None


Intent = MoveIntent | StopIntent | FaceIntent | ChatIntent | EmoteIntent | PingIntent


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The first frame of a connection: protocol version, frame encoding, join ticket."""

    version: int
    encoding: str
    ticket: str


ClientControl = ClientHello
