"""Generate the starter zone files in content/zones/ (deterministic, pure Python).

The JSON files are the content; this script only draws their tile strings so that a designer
can change a road or a lake here and regenerate. Run from the repository root::

    python content/tools/make_zones.py          # rewrites the three files in content/zones/
    python content/tools/make_zones.py --check  # exit 1 if a file differs from the output

Every file is validated by ``worlds.sim.zonemap.load_zone_dir`` after writing (the server does
the same at start-up).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import sys
from collections.abc import Iterable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
ZONES_DIR = ROOT / "content" / "zones"

LEGEND: dict[str, dict[str, Any]] = {
    ".": {"kind": "grass", "walkable": True},
    "f": {"kind": "flowers", "walkable": True},
    "=": {"kind": "road", "walkable": True},
    "_": {"kind": "floor", "walkable": True},
    ",": {"kind": "sand", "walkable": True},
    "+": {"kind": "door", "walkable": True},
    ":": {"kind": "portal", "walkable": True},
    "#": {"kind": "wall", "walkable": False},
    "~": {"kind": "water", "walkable": False},
    "T": {"kind": "tree", "walkable": False},
    "^": {"kind": "rock", "walkable": False},
}


class Canvas:
    """A mutable grid of legend characters, written out as equal-length row strings."""

    def __init__(self, width: int, height: int, fill: str) -> None:
        self.width = width
        self.height = height
        self.cells = [[fill] * width for _ in range(height)]

    def rect(self, x: int, y: int, width: int, height: int, char: str) -> None:
        for row in range(max(y, 0), min(y + height, self.height)):
            for col in range(max(x, 0), min(x + width, self.width)):
                self.cells[row][col] = char

    def outline(self, x: int, y: int, width: int, height: int, char: str) -> None:
        self.rect(x, y, width, 1, char)
        self.rect(x, y + height - 1, width, 1, char)
        self.rect(x, y, 1, height, char)
        self.rect(x + width - 1, y, 1, height, char)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, char: str) -> None:
        for row in range(self.height):
            for col in range(self.width):
                if ((col + 0.5 - cx) / rx) ** 2 + ((row + 0.5 - cy) / ry) ** 2 <= 1.0:
                    self.cells[row][col] = char

    def get(self, x: int, y: int) -> str:
        return self.cells[y][x]

    def set(self, x: int, y: int, char: str) -> None:
        self.cells[y][x] = char

    def rows(self) -> list[str]:
        return ["".join(row) for row in self.cells]


def scatter(
    canvas: Canvas,
    rng: random.Random,
    *,
    char: str,
    on: str,
    density: float,
    keep_clear: Iterable[tuple[float, float, float]],
) -> None:
    """Place ``char`` on ``density`` of the ``on`` tiles, away from the (x, y, radius) spots."""
    clear = list(keep_clear)
    for row in range(canvas.height):
        for col in range(canvas.width):
            if canvas.get(col, row) != on or rng.random() >= density:
                continue
            if any((col + 0.5 - x) ** 2 + (row + 0.5 - y) ** 2 < r * r for x, y, r in clear):
                continue
            canvas.set(col, row, char)


def zone_document(
    *,
    zone_id: str,
    name: str,
    kind: str,
    canvas: Canvas,
    spawn_points: list[dict[str, Any]],
    portals: list[dict[str, Any]],
    npc_spawns: list[dict[str, Any]],
    music: str,
    ambient: str,
) -> dict[str, Any]:
    rows = canvas.rows()
    used = {char for row in rows for char in row}
    return {
        "format": 1,
        "id": zone_id,
        "name": name,
        "kind": kind,
        "music": music,
        "ambient": ambient,
        "legend": {char: entry for char, entry in LEGEND.items() if char in used},
        "tiles": rows,
        "spawn_points": spawn_points,
        "portals": portals,
        "npc_spawns": npc_spawns,
    }


def make_town() -> dict[str, Any]:
    rng = random.Random(1)
    canvas = Canvas(48, 48, ".")
    canvas.outline(0, 0, 48, 48, "#")
    canvas.rect(1, 23, 46, 2, "=")  # east-west high street
    canvas.rect(23, 1, 2, 46, "=")  # north-south street
    canvas.rect(17, 17, 14, 14, "_")  # plaza
    canvas.rect(23, 23, 2, 2, "~")  # fountain
    for bx, by, door_x, door_y in (
        (4, 4, 9, 11),
        (33, 4, 37, 11),
        (4, 34, 9, 34),
        (33, 34, 37, 34),
    ):
        canvas.rect(bx, by, 11, 8, "_")
        canvas.outline(bx, by, 11, 8, "#")
        canvas.set(door_x, door_y, "+")
    canvas.rect(47, 23, 1, 2, ":")  # east gate to the field
    scatter(
        canvas,
        rng,
        char="f",
        on=".",
        density=0.08,
        keep_clear=[],
    )
    scatter(canvas, rng, char="T", on=".", density=0.05, keep_clear=[(44.5, 24.0, 3.0)])
    return zone_document(
        zone_id="town",
        name="Hearthmoor",
        kind="town",
        canvas=canvas,
        spawn_points=[
            {"id": "default", "x": 24.0, "y": 20.5},
            {"id": "from_field", "x": 44.5, "y": 24.0},
        ],
        portals=[
            {
                "id": "to_field",
                "x": 47,
                "y": 23,
                "width": 1,
                "height": 2,
                "to_zone": "field",
                "to_spawn": "from_town",
            }
        ],
        npc_spawns=[
            {
                "npc": "town_guard",
                "x": 44.5,
                "y": 21.5,
                "count": 2,
                "radius": 1.0,
                "respawn_seconds": 60.0,
            },
            {
                "npc": "villager",
                "x": 20.5,
                "y": 27.5,
                "count": 4,
                "radius": 3.0,
                "respawn_seconds": 60.0,
            },
        ],
        music="town_day",
        ambient="market",
    )


def make_field() -> dict[str, Any]:
    rng = random.Random(2)
    size = 128
    canvas = Canvas(size, size, ".")
    # A tree line marks the edge of the map.
    canvas.outline(0, 0, size, size, "T")
    canvas.outline(1, 1, size - 2, size - 2, "T")
    # Lakes with sandy shores.
    canvas.ellipse(40, 30, 16, 11, ",")
    canvas.ellipse(40, 30, 14, 9, "~")
    canvas.ellipse(72, 100, 10, 8, ",")
    canvas.ellipse(72, 100, 8, 6, "~")
    # Rocky ridge in the north-east with the cave mouth of the dungeon.
    canvas.rect(92, 2, 24, 11, "^")
    canvas.rect(103, 10, 2, 2, ":")
    # Roads: west gate -> east, then north to the cave.
    canvas.rect(0, 63, 105, 2, "=")
    canvas.rect(103, 12, 2, 53, "=")
    canvas.rect(0, 63, 1, 2, ":")  # west gate back to town
    keep_clear = [
        (3.5, 64.0, 4.0),
        (104.0, 14.5, 4.0),
        (60.0, 64.0, 3.0),
        (30.5, 58.5, 9.0),
        (90.5, 88.5, 11.0),
        (76.5, 36.5, 8.0),
    ]
    scatter(canvas, rng, char="T", on=".", density=0.04, keep_clear=keep_clear)
    # Two small woods.
    for cx, cy, r in ((20.0, 100.0, 9.0), (110.0, 40.0, 7.0)):
        for row in range(size):
            for col in range(size):
                inside = (col + 0.5 - cx) ** 2 + (row + 0.5 - cy) ** 2 <= r * r
                if inside and canvas.get(col, row) == "." and rng.random() < 0.45:
                    canvas.set(col, row, "T")
    scatter(canvas, rng, char="f", on=".", density=0.03, keep_clear=[])
    return zone_document(
        zone_id="field",
        name="Whispering Field",
        kind="field",
        canvas=canvas,
        spawn_points=[
            {"id": "default", "x": 60.0, "y": 64.0},
            {"id": "from_town", "x": 3.5, "y": 64.0},
            {"id": "from_dungeon", "x": 104.0, "y": 14.5},
        ],
        portals=[
            {
                "id": "to_town",
                "x": 0,
                "y": 63,
                "width": 1,
                "height": 2,
                "to_zone": "town",
                "to_spawn": "from_field",
            },
            {
                "id": "to_dungeon_entrance",
                "x": 103,
                "y": 10,
                "width": 2,
                "height": 2,
                "to_zone": "dungeon_entrance",
                "to_spawn": "from_field",
            },
        ],
        npc_spawns=[
            {
                "npc": "rabbit",
                "x": 30.5,
                "y": 58.5,
                "count": 6,
                "radius": 8.0,
                "respawn_seconds": 20.0,
            },
            {
                "npc": "wolf",
                "x": 90.5,
                "y": 88.5,
                "count": 5,
                "radius": 10.0,
                "respawn_seconds": 45.0,
            },
            {
                "npc": "boar",
                "x": 76.5,
                "y": 36.5,
                "count": 4,
                "radius": 7.0,
                "respawn_seconds": 40.0,
            },
        ],
        music="field_day",
        ambient="wind",
    )


def make_dungeon_entrance() -> dict[str, Any]:
    rng = random.Random(3)
    canvas = Canvas(40, 40, "#")
    canvas.rect(14, 29, 12, 9, "_")  # entry hall
    canvas.rect(19, 38, 2, 1, ":")  # stairs back up to the field
    canvas.rect(19, 9, 2, 21, "_")  # main corridor north
    canvas.rect(4, 17, 10, 10, "_")  # west room
    canvas.rect(26, 17, 10, 10, "_")  # east room
    canvas.rect(13, 21, 14, 2, "_")  # cross corridor
    canvas.rect(11, 2, 18, 8, "_")  # north hall
    for px in (14, 18, 21, 25):  # pillars in the north hall
        canvas.set(px, 4, "#")
        canvas.set(px, 7, "#")
    canvas.rect(31, 23, 3, 2, "~")  # a pool in the east room
    # Rubble: a few wall tiles knocked loose inside the west room.
    for _ in range(4):
        canvas.set(rng.randrange(5, 8), rng.randrange(18, 21), "^")
    return zone_document(
        zone_id="dungeon_entrance",
        name="Hollow Stair",
        kind="dungeon",
        canvas=canvas,
        spawn_points=[
            {"id": "default", "x": 20.0, "y": 34.5},
            {"id": "from_field", "x": 20.0, "y": 36.5},
        ],
        portals=[
            {
                "id": "to_field",
                "x": 19,
                "y": 38,
                "width": 2,
                "height": 1,
                "to_zone": "field",
                "to_spawn": "from_dungeon",
            }
        ],
        npc_spawns=[
            {
                "npc": "cave_bat",
                "x": 9.5,
                "y": 23.5,
                "count": 4,
                "radius": 3.0,
                "respawn_seconds": 30.0,
            },
            {
                "npc": "skeleton",
                "x": 20.0,
                "y": 5.5,
                "count": 3,
                "radius": 4.0,
                "respawn_seconds": 60.0,
            },
            {
                "npc": "cave_spider",
                "x": 28.5,
                "y": 19.5,
                "count": 3,
                "radius": 2.0,
                "respawn_seconds": 45.0,
            },
        ],
        music="dungeon_low",
        ambient="drips",
    )


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--out", type=pathlib.Path, default=ZONES_DIR)
    args = parser.parse_args(argv)
    documents = [make_town(), make_field(), make_dungeon_entrance()]
    differs = []
    args.out.mkdir(parents=True, exist_ok=True)
    for document in documents:
        path = args.out / f"{document['id']}.json"
        text = render(document)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            differs.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    if args.check:
        for path in differs:
            print(f"{path}: differs from the generator output", file=sys.stderr)
        return 1 if differs else 0
    sys.path.insert(0, str(ROOT))
    from worlds.sim.zonemap import load_zone_dir

    zones = load_zone_dir(args.out)
    for zone in zones.values():
        print(f"{zone.id}: {zone.width}x{zone.height}, {len(zone.portals)} portals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
