"""Generated open zones for the simulation benchmarks: grass with a rock border and scattered
rocks (obstacles for the bots to bounce on). Plain Python, no Django."""

from __future__ import annotations

from typing import Any


def plains_rows(
    *, height: int, walk_width: int, width: int, first: int, spread: int, stride: int
) -> tuple[str, ...]:
    """Rows of a ``width`` x ``height`` zone, walkable in its first ``walk_width`` columns
    (rock beyond); rocks every ``stride`` tiles from ``first + (y * 13) % spread`` on three rows
    in seventeen."""
    rows = []
    for y in range(height):
        if y in (0, height - 1):
            rows.append("#" * width)
            continue
        row = ["."] * walk_width + ["#"] * (width - walk_width)
        row[0] = row[walk_width - 1] = "#"
        for x in range(first + (y * 13) % spread, walk_width - 1, stride):
            if y % 17 < 3:
                row[x] = "#"
        rows.append("".join(row))
    return tuple(rows)


def plains_zone(
    zone_map_class: Any, tile_kind: Any, *, zone_id: str, name: str, rows: tuple[str, ...]
) -> Any:
    """A ``ZoneMap`` of ``rows`` (classes passed in: the scripts import them after path set-up)."""
    return zone_map_class(
        id=zone_id,
        name=name,
        kind="field",
        width=len(rows[0]),
        height=len(rows),
        spawn_points={},
        portals=(),
        npc_spawns=(),
        tiles=rows,
        legend={".": tile_kind(".", "grass", True), "#": tile_kind("#", "rock", False)},
    )
