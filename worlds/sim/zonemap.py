"""Zone content: loading and validating the JSON zone files under ``content/zones/``.

A zone file describes one map (format documented in ``docs/content.md``)::

    {
      "format": 1, "id": "field", "name": "Whispering Field", "kind": "field",
      "music": "field_day", "ambient": "wind",                      # optional
      "legend": {".": {"kind": "grass", "walkable": true},
                 "#": {"kind": "wall", "walkable": false}},
      "tiles": ["#####", "#...#", "#####"],                           # rows, top (y=0) first
      "spawn_points": [{"id": "default", "x": 2.5, "y": 1.5}],
      "portals": [{"id": "to_town", "x": 0, "y": 1, "width": 1, "height": 1,
                   "to_zone": "town", "to_spawn": "from_field"}],
      "npc_spawns": [{"npc": "wolf", "x": 2.5, "y": 1.5, "count": 3, "radius": 4.0,
                      "respawn_seconds": 30.0}]
    }

Coordinates: one tile is one world unit; tile column ``i`` covers ``i <= x < i + 1`` and tile
row ``j`` covers ``j <= y < j + 1``; ``(0, 0)`` is the top-left corner. Positions are floats,
portal rectangles are whole tiles.

Public API (stable, adapters rely on it):

* ``load_zone_file(path) -> ZoneMap`` validates one file on its own.
* ``load_zone_dir(path) -> dict[str, ZoneMap]`` validates every ``*.json`` file in the folder and
  the references between them (portal targets and their spawn ids).
* Every content fault raises ``ZoneContentError`` whose message starts with the file path and
  names the fault, e.g. ``content/zones/field.json: portal 'to_town' targets unknown zone 'twon'``.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field
from typing import Any

import orjson

ZONE_FORMAT_VERSION = 1
ZONE_KINDS = frozenset({"town", "field", "dungeon"})
DEFAULT_SPAWN_ID = "default"
MAX_ZONE_SIDE = 1024

_TOP_LEVEL_REQUIRED = {"format", "id", "name", "kind", "legend", "tiles", "spawn_points"}
_TOP_LEVEL_OPTIONAL = {"portals", "npc_spawns", "music", "ambient"}


class ZoneContentError(Exception):
    """A zone file is unreadable or inconsistent; ``str(exc)`` names the file and the fault."""


@dataclass(frozen=True)
class TileKind:
    """What one legend character means: drawn as ``kind`` by the client; blocks if not walkable."""

    char: str
    kind: str
    walkable: bool


@dataclass(frozen=True)
class SpawnPoint:
    id: str
    x: float
    y: float


@dataclass(frozen=True)
class Portal:
    """A rectangle of whole tiles; stepping into it moves the player to ``to_zone``/``to_spawn``."""

    id: str
    x: int
    y: int
    width: int
    height: int
    to_zone: str
    to_spawn: str

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x < self.x + self.width and self.y <= y < self.y + self.height


@dataclass(frozen=True)
class NpcSpawn:
    npc: str
    x: float
    y: float
    count: int
    radius: float
    respawn_seconds: float


@dataclass(frozen=True)
class ZoneMap:
    """One validated zone. Immutable; shared by every simulation that runs the zone."""

    id: str
    name: str
    kind: str  # "town" | "field" | "dungeon"
    width: int  # in tiles; 1 tile = 1 world unit
    height: int
    spawn_points: dict[str, SpawnPoint]
    portals: tuple[Portal, ...]
    npc_spawns: tuple[NpcSpawn, ...]
    tiles: tuple[str, ...] = field(repr=False)
    legend: dict[str, TileKind] = field(repr=False)
    music: str | None = None
    ambient: str | None = None
    # Row-major, one byte per tile (1 = walkable): the movement check reads this every tick.
    walkable_mask: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.walkable_mask:
            mask = bytes(
                1 if self.legend[char].walkable else 0 for row in self.tiles for char in row
            )
            object.__setattr__(self, "walkable_mask", mask)

    def in_bounds(self, x: float, y: float) -> bool:
        return 0.0 <= x < self.width and 0.0 <= y < self.height

    def is_walkable(self, x: float, y: float) -> bool:
        """True if ``(x, y)`` lies inside the map on a walkable tile (False for NaN too)."""
        if not (0.0 <= x < self.width and 0.0 <= y < self.height):
            return False
        return self.walkable_mask[int(y) * self.width + int(x)] == 1

    def portal_at(self, x: float, y: float) -> Portal | None:
        for portal in self.portals:
            if portal.contains(x, y):
                return portal
        return None

    def client_payload(self) -> dict[str, Any]:
        """The map as the browser client needs it to draw (sent in ``welcome`` / ``zone``)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "w": self.width,
            "h": self.height,
            "legend": {
                char: {"kind": tile.kind, "walkable": tile.walkable}
                for char, tile in self.legend.items()
            },
            "tiles": list(self.tiles),
            "portals": [
                {
                    "id": p.id,
                    "x": p.x,
                    "y": p.y,
                    "w": p.width,
                    "h": p.height,
                    "to": p.to_zone,
                }
                for p in self.portals
            ],
            "music": self.music,
            "ambient": self.ambient,
        }


def load_zone_file(path: pathlib.Path) -> ZoneMap:
    """Read and validate one zone file (everything that does not need the other zones)."""
    reader = _ZoneReader(path)
    return reader.read()


def load_zone_dir(path: pathlib.Path) -> dict[str, ZoneMap]:
    """Load every ``*.json`` zone in ``path`` and check the references between zones."""
    files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    if not files:
        raise ZoneContentError(f"{path}: no zone files (*.json) found")
    zones: dict[str, ZoneMap] = {}
    origin: dict[str, pathlib.Path] = {}
    for file in files:
        zone = load_zone_file(file)
        if zone.id in zones:
            raise ZoneContentError(
                f"{file}: duplicate zone id '{zone.id}' (already defined in {origin[zone.id]})"
            )
        zones[zone.id] = zone
        origin[zone.id] = file
    for zone_id, zone in zones.items():
        for portal in zone.portals:
            target = zones.get(portal.to_zone)
            if target is None:
                raise ZoneContentError(
                    f"{origin[zone_id]}: portal '{portal.id}' targets unknown zone "
                    f"'{portal.to_zone}'"
                )
            if portal.to_spawn not in target.spawn_points:
                raise ZoneContentError(
                    f"{origin[zone_id]}: portal '{portal.id}' targets unknown spawn point "
                    f"'{portal.to_spawn}' in zone '{portal.to_zone}'"
                )
    return zones


class _ZoneReader:
    """Validates one parsed file; every failure goes through ``fail`` so it names the file."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def fail(self, fault: str) -> ZoneContentError:
        return ZoneContentError(f"{self.path}: {fault}")

    def read(self) -> ZoneMap:
        data = self._parse()
        missing = sorted(_TOP_LEVEL_REQUIRED - data.keys())
        if missing:
            raise self.fail(f"missing field '{missing[0]}'")
        unknown = sorted(data.keys() - _TOP_LEVEL_REQUIRED - _TOP_LEVEL_OPTIONAL)
        if unknown:
            raise self.fail(f"unknown field '{unknown[0]}'")
        if data["format"] != ZONE_FORMAT_VERSION or isinstance(data["format"], bool):
            raise self.fail(
                f"unsupported format {data['format']!r} (this server reads {ZONE_FORMAT_VERSION})"
            )
        zone_id = self._string(data, "id", "zone")
        if zone_id != self.path.stem:
            raise self.fail(f"zone id '{zone_id}' does not match the file name '{self.path.name}'")
        name = self._string(data, "name", "zone")
        kind = self._string(data, "kind", "zone")
        if kind not in ZONE_KINDS:
            raise self.fail(f"unknown zone kind '{kind}' (expected one of {sorted(ZONE_KINDS)})")
        music = self._optional_string(data, "music")
        ambient = self._optional_string(data, "ambient")
        legend = self._legend(data["legend"])
        tiles = self._tiles(data["tiles"], legend)
        width, height = len(tiles[0]), len(tiles)
        draft = ZoneMap(
            id=zone_id,
            name=name,
            kind=kind,
            width=width,
            height=height,
            spawn_points={},
            portals=(),
            npc_spawns=(),
            tiles=tiles,
            legend=legend,
            music=music,
            ambient=ambient,
        )
        portals = self._portals(data.get("portals", []), draft)
        spawn_points = self._spawn_points(data["spawn_points"], draft, portals)
        npc_spawns = self._npc_spawns(data.get("npc_spawns", []), draft)
        return ZoneMap(
            id=zone_id,
            name=name,
            kind=kind,
            width=width,
            height=height,
            spawn_points=spawn_points,
            portals=portals,
            npc_spawns=npc_spawns,
            tiles=tiles,
            legend=legend,
            music=music,
            ambient=ambient,
            walkable_mask=draft.walkable_mask,
        )

    def _parse(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise self.fail(f"cannot read file ({exc.strerror})") from exc
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise self.fail(f"invalid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise self.fail("top level must be a JSON object")
        return data

    # -- field helpers ---------------------------------------------------------------------

    def _string(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where} field '{key}' must be a non-empty string")
        return value

    def _optional_string(self, obj: dict[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"field '{key}' must be a string")
        return value

    def _number(self, obj: dict[str, Any], key: str, where: str) -> float:
        value = obj.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(f"{where} field '{key}' must be a number")
        return float(value)

    def _integer(self, obj: dict[str, Any], key: str, where: str) -> int:
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where} field '{key}' must be an integer")
        return value

    def _object_list(self, value: Any, key: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(f"field '{key}' must be a list of objects")
        return value

    def _check_keys(self, obj: dict[str, Any], expected: set[str], where: str) -> None:
        missing = sorted(expected - obj.keys())
        if missing:
            raise self.fail(f"{where} is missing field '{missing[0]}'")
        unknown = sorted(obj.keys() - expected)
        if unknown:
            raise self.fail(f"{where} has unknown field '{unknown[0]}'")

    # -- sections --------------------------------------------------------------------------

    def _legend(self, value: Any) -> dict[str, TileKind]:
        if not isinstance(value, dict) or not value:
            raise self.fail("field 'legend' must be a non-empty object")
        legend: dict[str, TileKind] = {}
        for char, entry in value.items():
            where = f"legend entry '{char}'"
            if len(char) != 1:
                raise self.fail(f"{where}: legend keys must be single characters")
            if not isinstance(entry, dict):
                raise self.fail(f"{where} must be an object")
            self._check_keys(entry, {"kind", "walkable"}, where)
            kind = self._string(entry, "kind", where)
            walkable = entry["walkable"]
            if not isinstance(walkable, bool):
                raise self.fail(f"{where} field 'walkable' must be true or false")
            legend[char] = TileKind(char=char, kind=kind, walkable=walkable)
        return legend

    def _tiles(self, value: Any, legend: dict[str, TileKind]) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
            raise self.fail("field 'tiles' must be a non-empty list of strings")
        width = len(value[0])
        if width == 0:
            raise self.fail("tile row 0 is empty")
        if width > MAX_ZONE_SIDE or len(value) > MAX_ZONE_SIDE:
            raise self.fail(f"zone larger than {MAX_ZONE_SIDE}x{MAX_ZONE_SIDE} tiles")
        for row_index, row in enumerate(value):
            if len(row) != width:
                raise self.fail(
                    f"tile row {row_index} is {len(row)} tiles wide, expected {width} (row 0)"
                )
            for column, char in enumerate(row):
                if char not in legend:
                    raise self.fail(
                        f"tile row {row_index} column {column}: character '{char}' "
                        "is not in the legend"
                    )
        return tuple(value)

    def _portals(self, value: Any, zone: ZoneMap) -> tuple[Portal, ...]:
        portals: list[Portal] = []
        seen: set[str] = set()
        keys = {"id", "x", "y", "width", "height", "to_zone", "to_spawn"}
        for index, entry in enumerate(self._object_list(value, "portals")):
            where = f"portal #{index}"
            self._check_keys(entry, keys, where)
            portal_id = self._string(entry, "id", where)
            where = f"portal '{portal_id}'"
            if portal_id in seen:
                raise self.fail(f"duplicate portal id '{portal_id}'")
            seen.add(portal_id)
            portal = Portal(
                id=portal_id,
                x=self._integer(entry, "x", where),
                y=self._integer(entry, "y", where),
                width=self._integer(entry, "width", where),
                height=self._integer(entry, "height", where),
                to_zone=self._string(entry, "to_zone", where),
                to_spawn=self._string(entry, "to_spawn", where),
            )
            if portal.width < 1 or portal.height < 1:
                raise self.fail(f"{where} must be at least 1x1 tiles")
            if (
                portal.x < 0
                or portal.y < 0
                or portal.x + portal.width > zone.width
                or portal.y + portal.height > zone.height
            ):
                raise self.fail(f"{where} lies outside the map ({zone.width}x{zone.height})")
            if not any(
                zone.is_walkable(tx + 0.5, ty + 0.5)
                for tx in range(portal.x, portal.x + portal.width)
                for ty in range(portal.y, portal.y + portal.height)
            ):
                raise self.fail(f"{where} covers no walkable tile, nobody can enter it")
            portals.append(portal)
        return tuple(portals)

    def _spawn_points(
        self, value: Any, zone: ZoneMap, portals: tuple[Portal, ...]
    ) -> dict[str, SpawnPoint]:
        points: dict[str, SpawnPoint] = {}
        for index, entry in enumerate(self._object_list(value, "spawn_points")):
            where = f"spawn point #{index}"
            self._check_keys(entry, {"id", "x", "y"}, where)
            spawn_id = self._string(entry, "id", where)
            where = f"spawn point '{spawn_id}'"
            if spawn_id in points:
                raise self.fail(f"duplicate spawn point id '{spawn_id}'")
            point = SpawnPoint(
                id=spawn_id, x=self._number(entry, "x", where), y=self._number(entry, "y", where)
            )
            if not zone.in_bounds(point.x, point.y):
                raise self.fail(f"{where} at ({point.x}, {point.y}) lies outside the map")
            if not zone.is_walkable(point.x, point.y):
                raise self.fail(f"{where} at ({point.x}, {point.y}) is not on a walkable tile")
            for portal in portals:
                # A player arriving inside a portal would be sent straight on again.
                if portal.contains(point.x, point.y):
                    raise self.fail(f"{where} lies inside portal '{portal.id}'")
            points[spawn_id] = point
        if DEFAULT_SPAWN_ID not in points:
            raise self.fail(f"no spawn point with id '{DEFAULT_SPAWN_ID}'")
        return points

    def _npc_spawns(self, value: Any, zone: ZoneMap) -> tuple[NpcSpawn, ...]:
        spawns: list[NpcSpawn] = []
        keys = {"npc", "x", "y", "count", "radius", "respawn_seconds"}
        for index, entry in enumerate(self._object_list(value, "npc_spawns")):
            where = f"npc spawn #{index}"
            self._check_keys(entry, keys, where)
            spawn = NpcSpawn(
                npc=self._string(entry, "npc", where),
                x=self._number(entry, "x", where),
                y=self._number(entry, "y", where),
                count=self._integer(entry, "count", where),
                radius=self._number(entry, "radius", where),
                respawn_seconds=self._number(entry, "respawn_seconds", where),
            )
            where = f"npc spawn #{index} ('{spawn.npc}')"
            if spawn.count < 1:
                raise self.fail(f"{where} field 'count' must be at least 1")
            if spawn.radius < 0:
                raise self.fail(f"{where} field 'radius' must not be negative")
            if spawn.respawn_seconds <= 0:
                raise self.fail(f"{where} field 'respawn_seconds' must be positive")
            if not zone.is_walkable(spawn.x, spawn.y):
                raise self.fail(
                    f"{where} at ({spawn.x}, {spawn.y}) is not on a walkable tile inside the map"
                )
            spawns.append(spawn)
        return tuple(spawns)
