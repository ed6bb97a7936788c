"""Players: the durable state exchanged with adapters and the runtime record the sim keeps.

``PlayerState`` is the plain, durable snapshot: the adapter builds one from the database when a
character joins, and gets one back from ``remove_player``, ``snapshot_player``, ``drain_dirty``
and in a ``ZoneTransfer``. ``Player`` is the sim's private runtime record (connection, seq and
correction bookkeeping, anti-cheat counters); its position lives in the zone's arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

FACING_NORTH, FACING_EAST, FACING_SOUTH, FACING_WEST = 0, 2, 4, 6
VIOLATION_REASONS = ("speed", "wall", "bounds", "time")


@dataclass(frozen=True)
class PlayerState:
    """Durable character state. Positions are in tiles; ``facing`` 0..7 (0 north, clockwise)."""

    character_id: int
    name: str
    zone: str
    x: float
    y: float
    facing: int = FACING_SOUTH
    hp: int = 100
    max_hp: int = 100
    level: int = 1
    class_id: str = "adventurer"
    appearance: dict[str, Any] = field(default_factory=dict)

    def moved_to(self, *, zone: str, x: float, y: float) -> PlayerState:
        return replace(self, zone=zone, x=x, y=y)


@dataclass
class CheatCounters:
    """Anti-cheat bookkeeping of one player (AzerothCore mod-anticheat style decaying score)."""

    violations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VIOLATION_REASONS, 0))
    score: float = 0.0
    score_time: float = 0.0
    # Not cheats, but worth a metric: duplicate/out-of-order seq and moves from before a
    # correction the client had not yet applied.
    stale_seq: int = 0
    stale_moves: int = 0
    logged: bool = False
    kicked: bool = False

    def decayed_score(self, now: float, half_life: float) -> float:
        elapsed = max(now - self.score_time, 0.0)
        return self.score * math.pow(0.5, elapsed / half_life)

    def add(self, reason: str, weight: float, now: float, half_life: float) -> float:
        self.violations[reason] += 1
        self.score = self.decayed_score(now, half_life) + weight
        self.score_time = now
        return self.score


@dataclass(frozen=True)
class SuspicionReport:
    """A player's suspicion score crossed a threshold this tick: log it, or kick (adapter's job)."""

    conn_id: str
    character_id: int
    action: str  # "log" | "kick"
    score: float
    last_reason: str
    violations: dict[str, int]


@dataclass(frozen=True)
class ChatRecord:
    """A chat line the sim accepted this tick, for the adapter's history (chat retention)."""

    character_id: int
    zone_id: str
    channel: str  # "say" | "zone"
    text: str
    at: float  # sim clock (seconds), the tick's ``now``


class Player:
    """Runtime record of one connected (or detached, within the reconnect grace) player."""

    __slots__ = (
        "appearance",
        "attached",
        "character_id",
        "cheat",
        "cid",
        "class_id",
        "conn_id",
        "encoding",
        "entity_id",
        "hp",
        "last_acked",
        "last_heard",
        "last_seq",
        "level",
        "max_hp",
        "move_tick",
        "moving",
        "name",
        "rtt",
        "slot",
        "zone_id",
    )

    def __init__(self, *, conn_id: str, entity_id: int, state: PlayerState, encoding: str) -> None:
        self.conn_id = conn_id
        self.entity_id = entity_id
        self.encoding = encoding
        self.character_id = state.character_id
        self.name = state.name
        self.zone_id = state.zone
        self.hp = state.hp
        self.max_hp = state.max_hp
        self.level = state.level
        self.class_id = state.class_id
        self.appearance = dict(state.appearance)
        self.slot = -1
        self.last_seq = 0
        self.last_acked = 0
        self.cid = 0
        self.moving = False
        self.move_tick = -1
        self.attached = True
        self.last_heard = 0.0
        self.rtt: float | None = None
        self.cheat = CheatCounters()

    def public_fields(self) -> dict[str, Any]:
        """Everything viewers get on ``enter`` besides the position (which comes in ``upd``)."""
        return {
            "id": self.entity_id,
            "k": "player",
            "name": self.name,
            "lvl": self.level,
            "cls": self.class_id,
            "hp": self.hp,
            "mhp": self.max_hp,
            "app": self.appearance,
            "mv": self.moving,
        }
