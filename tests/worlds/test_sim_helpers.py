"""Shared helpers for the simulation tests (small hand-drawn zones, a driver, frame decoding)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from worlds.sim import (
    MoveIntent,
    PlayerState,
    Portal,
    ShardSim,
    SimConfig,
    SpawnPoint,
    TickOutput,
    ZoneMap,
    decode_server_frame,
)
from worlds.sim.zonemap import TileKind

LEGEND = {
    ".": TileKind(".", "grass", True),
    "#": TileKind("#", "wall", False),
    ":": TileKind(":", "portal", True),
}


def grid_zone(
    rows: list[str],
    zone_id: str = "alpha",
    *,
    portals: tuple[Portal, ...] = (),
    spawns: dict[str, tuple[float, float]] | None = None,
) -> ZoneMap:
    spawn_points = {
        name: SpawnPoint(name, x, y) for name, (x, y) in (spawns or {"default": (1.5, 1.5)}).items()
    }
    return ZoneMap(
        id=zone_id,
        name=zone_id.title(),
        kind="field",
        width=len(rows[0]),
        height=len(rows),
        spawn_points=spawn_points,
        portals=portals,
        npc_spawns=(),
        tiles=tuple(rows),
        legend=LEGEND,
    )


def open_zone(side: int = 100, zone_id: str = "alpha") -> ZoneMap:
    return grid_zone(["." * side] * side, zone_id, spawns={"default": (side / 2, side / 2)})


def state(character_id: int, zone: str, x: float, y: float, name: str = "") -> PlayerState:
    return PlayerState(
        character_id=character_id, name=name or f"p{character_id}", zone=zone, x=x, y=y
    )


@dataclass
class Driver:
    """Runs a sim with a fixed 20 Hz clock and remembers each client's seq and client clock."""

    sim: ShardSim
    now: float = 0.0
    seqs: dict[str, int] = field(default_factory=dict)
    cids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, zones: list[ZoneMap], owned: set[str] | None = None, **config: Any) -> Driver:
        sim = ShardSim({z.id: z for z in zones}, SimConfig(**config), owned_zones=owned)
        return cls(sim=sim)

    def join(
        self, conn_id: str, character_id: int, zone: str, x: float, y: float, **kwargs: Any
    ) -> int:
        self.seqs[conn_id] = 0
        self.cids[conn_id] = 0
        return self.sim.add_player(conn_id, state(character_id, zone, x, y), now=self.now, **kwargs)

    def next_seq(self, conn_id: str) -> int:
        self.seqs[conn_id] += 1
        return self.seqs[conn_id]

    def client_ms(self) -> float:
        """A client clock in step with the server clock (plus an arbitrary offset)."""
        return 100_000.0 + self.now * 1000.0

    def move(self, conn_id: str, x: float, y: float, *, ct: float | None = None) -> bool:
        return self.sim.submit(
            conn_id,
            MoveIntent(
                self.next_seq(conn_id),
                round(x, 2),
                round(y, 2),
                self.client_ms() if ct is None else ct,
                self.cids[conn_id],
            ),
        )

    def submit(self, conn_id: str, intent: Any) -> bool:
        return self.sim.submit(conn_id, intent)

    def tick(self, seconds: float = 0.05) -> TickOutput:
        self.now = round(self.now + seconds, 6)
        out = self.sim.tick(self.now)
        for conn_id in list(self.cids):
            decoded = frame_of(out, conn_id)
            if decoded is None:
                continue
            you = decoded.get("you")
            if you is not None:
                self.cids[conn_id] = you["cor"]
            for event in decoded.get("ev", []):
                if event["e"] == "zone":
                    self.cids[conn_id] = event["cor"]
        return out

    def idle(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()

    def position(self, conn_id: str) -> tuple[float, float]:
        snapshot = self.sim.snapshot_player(conn_id)
        return snapshot.x, snapshot.y


def frame_of(out: TickOutput, conn_id: str) -> dict[str, Any] | None:
    if conn_id not in out.frames:
        return None
    raw = out.frames[conn_id]
    encoding = "msgpack" if raw[:1] != b"{" else "json"
    return decode_server_frame(raw, encoding)


def upd_ids(frame: dict[str, Any] | None) -> set[int]:
    return {record[0] for record in (frame or {}).get("upd", [])}


def enter_ids(frame: dict[str, Any] | None) -> set[int]:
    return {entity["id"] for entity in (frame or {}).get("enter", [])}


def leave_ids(frame: dict[str, Any] | None) -> set[int]:
    return set((frame or {}).get("leave", []))


def events(frame: dict[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    return [event for event in (frame or {}).get("ev", []) if event["e"] == kind]


def test_grid_zone_helper_builds_a_valid_walkable_mask() -> None:
    zone = grid_zone(["###", "#.#", "###"])

    assert zone.is_walkable(1.5, 1.5)
    assert not zone.is_walkable(0.5, 1.5)
