"""Zone content loading: the shipped zones load, and every kind of fault names file and fault."""

from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from worlds.sim.zonemap import ZoneContentError, ZoneMap, load_zone_dir, load_zone_file

REPO = pathlib.Path(__file__).resolve().parents[2]
ZONES = REPO / "content" / "zones"


def valid_zone(zone_id: str = "alpha", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": 1,
        "id": zone_id,
        "name": "Alpha",
        "kind": "field",
        "legend": {
            ".": {"kind": "grass", "walkable": True},
            "#": {"kind": "wall", "walkable": False},
            ":": {"kind": "portal", "walkable": True},
        },
        "tiles": [
            "######",
            "#....#",
            "#.#..:",
            "######",
        ],
        "spawn_points": [{"id": "default", "x": 1.5, "y": 1.5}],
        "portals": [],
        "npc_spawns": [
            {"npc": "rat", "x": 3.5, "y": 1.5, "count": 2, "radius": 1.0, "respawn_seconds": 10.0}
        ],
    }
    document.update(overrides)
    return document


def write(
    directory: pathlib.Path, document: dict[str, Any], name: str | None = None
) -> pathlib.Path:
    path = directory / f"{name or document['id']}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_shipped_zones_load_with_expected_sizes_and_links() -> None:
    zones = load_zone_dir(ZONES)

    assert set(zones) == {"town", "field", "dungeon_entrance"}
    assert (zones["town"].width, zones["town"].height) == (48, 48)
    assert (zones["field"].width, zones["field"].height) == (128, 128)
    assert (zones["dungeon_entrance"].width, zones["dungeon_entrance"].height) == (40, 40)
    assert {p.to_zone for p in zones["field"].portals} == {"town", "dungeon_entrance"}
    assert {p.to_zone for p in zones["town"].portals} == {"field"}
    assert {p.to_zone for p in zones["dungeon_entrance"].portals} == {"field"}
    assert [z.kind for z in (zones["town"], zones["field"], zones["dungeon_entrance"])] == [
        "town",
        "field",
        "dungeon",
    ]


def test_shipped_zones_match_their_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "content" / "tools" / "make_zones.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_walkability_and_portal_lookup(tmp_path: pathlib.Path) -> None:
    portal = {
        "id": "out",
        "x": 5,
        "y": 2,
        "width": 1,
        "height": 1,
        "to_zone": "alpha",
        "to_spawn": "default",
    }
    zone = load_zone_file(write(tmp_path, valid_zone(portals=[portal])))

    assert zone.is_walkable(1.0, 1.0)
    assert zone.is_walkable(4.999, 2.999)
    assert not zone.is_walkable(2.5, 2.5)  # wall inside the map
    assert not zone.is_walkable(0.5, 0.5)  # border wall
    assert not zone.is_walkable(-0.1, 1.5)  # outside, would truncate to column 0
    assert not zone.is_walkable(6.0, 1.5)
    assert not zone.is_walkable(float("nan"), 1.5)
    assert zone.portal_at(5.2, 2.7) is not None
    assert zone.portal_at(4.9, 2.7) is None
    payload = zone.client_payload()
    assert payload["w"] == 6 and payload["h"] == 4 and payload["tiles"][2] == "#.#..:"


Mutator = Callable[[dict[str, Any]], None]


def set_key(key: str, value: Any) -> Mutator:
    def mutate(document: dict[str, Any]) -> None:
        document[key] = value

    return mutate


def drop_key(key: str) -> Mutator:
    def mutate(document: dict[str, Any]) -> None:
        del document[key]

    return mutate


def edit(function: Callable[[dict[str, Any]], Any]) -> Mutator:
    def mutate(document: dict[str, Any]) -> None:
        function(document)

    return mutate


PORTAL = {
    "id": "out",
    "x": 5,
    "y": 2,
    "width": 1,
    "height": 1,
    "to_zone": "alpha",
    "to_spawn": "default",
}

SINGLE_FILE_FAULTS: list[tuple[str, Mutator, str]] = [
    ("missing field", drop_key("tiles"), "missing field 'tiles'"),
    ("unknown field", set_key("tilez", []), "unknown field 'tilez'"),
    ("bad format", set_key("format", 2), "unsupported format 2"),
    ("id mismatch", set_key("id", "beta"), "zone id 'beta' does not match the file name"),
    ("empty name", set_key("name", ""), "field 'name' must be a non-empty string"),
    ("unknown kind", set_key("kind", "swamp"), "unknown zone kind 'swamp'"),
    ("music type", set_key("music", 3), "field 'music' must be a string"),
    ("legend not object", set_key("legend", []), "field 'legend' must be a non-empty object"),
    (
        "legend key length",
        edit(lambda d: d["legend"].update({"ab": {"kind": "x", "walkable": True}})),
        "legend keys must be single characters",
    ),
    (
        "legend walkable type",
        edit(lambda d: d["legend"]["."].update(walkable="yes")),
        "legend entry '.' field 'walkable' must be true or false",
    ),
    (
        "legend missing kind",
        edit(lambda d: d["legend"]["."].pop("kind")),
        "legend entry '.' is missing field 'kind'",
    ),
    ("tiles empty", set_key("tiles", []), "field 'tiles' must be a non-empty list of strings"),
    (
        "ragged rows",
        edit(lambda d: d["tiles"].__setitem__(1, "#...#")),
        "tile row 1 is 5 tiles wide, expected 6",
    ),
    (
        "unknown legend char",
        edit(lambda d: d["tiles"].__setitem__(1, "#..?.#")),
        "tile row 1 column 3: character '?' is not in the legend",
    ),
    (
        "no default spawn",
        set_key("spawn_points", [{"id": "north", "x": 1.5, "y": 1.5}]),
        "no spawn point with id 'default'",
    ),
    (
        "duplicate spawn id",
        set_key(
            "spawn_points",
            [{"id": "default", "x": 1.5, "y": 1.5}, {"id": "default", "x": 3.5, "y": 1.5}],
        ),
        "duplicate spawn point id 'default'",
    ),
    (
        "spawn outside",
        set_key("spawn_points", [{"id": "default", "x": 9.0, "y": 1.5}]),
        "spawn point 'default' at (9.0, 1.5) lies outside the map",
    ),
    (
        "spawn on wall",
        set_key("spawn_points", [{"id": "default", "x": 2.5, "y": 2.5}]),
        "spawn point 'default' at (2.5, 2.5) is not on a walkable tile",
    ),
    (
        "spawn coordinate type",
        set_key("spawn_points", [{"id": "default", "x": "1", "y": 1.5}]),
        "spawn point 'default' field 'x' must be a number",
    ),
    (
        "spawn inside portal",
        edit(
            lambda d: d.update(
                portals=[PORTAL], spawn_points=[{"id": "default", "x": 5.5, "y": 2.5}]
            )
        ),
        "spawn point 'default' lies inside portal 'out'",
    ),
    (
        "portal duplicate id",
        set_key("portals", [PORTAL, PORTAL]),
        "duplicate portal id 'out'",
    ),
    (
        "portal outside map",
        set_key("portals", [{**PORTAL, "x": 5, "width": 3}]),
        "portal 'out' lies outside the map (6x4)",
    ),
    (
        "portal zero size",
        set_key("portals", [{**PORTAL, "height": 0}]),
        "portal 'out' must be at least 1x1 tiles",
    ),
    (
        "portal on walls only",
        set_key("portals", [{**PORTAL, "x": 0, "y": 0}]),
        "portal 'out' covers no walkable tile",
    ),
    (
        "portal float position",
        set_key("portals", [{**PORTAL, "x": 5.5}]),
        "portal 'out' field 'x' must be an integer",
    ),
    (
        "portal missing target",
        set_key("portals", [{k: v for k, v in PORTAL.items() if k != "to_spawn"}]),
        "portal #0 is missing field 'to_spawn'",
    ),
    ("portals not list", set_key("portals", {"id": "x"}), "field 'portals' must be a list"),
    (
        "npc count",
        edit(lambda d: d["npc_spawns"][0].update(count=0)),
        "npc spawn #0 ('rat') field 'count' must be at least 1",
    ),
    (
        "npc radius",
        edit(lambda d: d["npc_spawns"][0].update(radius=-1)),
        "npc spawn #0 ('rat') field 'radius' must not be negative",
    ),
    (
        "npc respawn",
        edit(lambda d: d["npc_spawns"][0].update(respawn_seconds=0)),
        "npc spawn #0 ('rat') field 'respawn_seconds' must be positive",
    ),
    (
        "npc on wall",
        edit(lambda d: d["npc_spawns"][0].update(x=0.5)),
        "npc spawn #0 ('rat') at (0.5, 1.5) is not on a walkable tile",
    ),
    (
        "npc boolean count",
        edit(lambda d: d["npc_spawns"][0].update(count=True)),
        "npc spawn #0 field 'count' must be an integer",
    ),
    (
        "npc unknown field",
        edit(lambda d: d["npc_spawns"][0].update(level=3)),
        "npc spawn #0 has unknown field 'level'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "fault"),
    [pytest.param(m, f, id=name) for name, m, f in SINGLE_FILE_FAULTS],
)
def test_each_fault_names_file_and_fault(
    tmp_path: pathlib.Path, mutate: Mutator, fault: str
) -> None:
    document = copy.deepcopy(valid_zone())
    mutate(document)
    path = write(tmp_path, document, name="alpha")

    with pytest.raises(ZoneContentError) as caught:
        load_zone_file(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert fault in str(caught.value)


def test_invalid_json_names_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alpha.json"
    path.write_text('{"id": "alpha",', encoding="utf-8")

    with pytest.raises(ZoneContentError, match=r"alpha\.json: invalid JSON"):
        load_zone_file(path)


def test_nan_is_invalid_json(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alpha.json"
    path.write_text(json.dumps(valid_zone()).replace('"x": 1.5', '"x": NaN'), encoding="utf-8")

    with pytest.raises(ZoneContentError, match="invalid JSON"):
        load_zone_file(path)


def test_top_level_must_be_object(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alpha.json"
    path.write_text("[1, 2]", encoding="utf-8")

    with pytest.raises(ZoneContentError, match=r"alpha\.json: top level must be a JSON object"):
        load_zone_file(path)


def test_unreadable_file_names_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alpha.json"

    with pytest.raises(ZoneContentError, match=r"alpha\.json: cannot read file"):
        load_zone_file(path)


def test_portal_to_unknown_zone_is_rejected_by_the_directory_check(
    tmp_path: pathlib.Path,
) -> None:
    path = write(tmp_path, valid_zone(portals=[{**PORTAL, "to_zone": "twon"}]))

    load_zone_file(path)  # on its own the file is fine
    with pytest.raises(ZoneContentError) as caught:
        load_zone_dir(tmp_path)

    assert str(caught.value) == f"{path}: portal 'out' targets unknown zone 'twon'"


def test_portal_to_unknown_spawn_is_rejected(tmp_path: pathlib.Path) -> None:
    write(tmp_path, valid_zone("beta"))
    path = write(tmp_path, valid_zone(portals=[{**PORTAL, "to_zone": "beta", "to_spawn": "x"}]))

    with pytest.raises(ZoneContentError) as caught:
        load_zone_dir(tmp_path)

    assert str(caught.value) == (
        f"{path}: portal 'out' targets unknown spawn point 'x' in zone 'beta'"
    )


def test_empty_directory_is_rejected(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ZoneContentError, match="no zone files"):
        load_zone_dir(tmp_path)


def test_valid_directory_links_zones(tmp_path: pathlib.Path) -> None:
    write(tmp_path, valid_zone("beta"))
    write(tmp_path, valid_zone(portals=[{**PORTAL, "to_zone": "beta"}]))

    zones = load_zone_dir(tmp_path)

    assert isinstance(zones["alpha"], ZoneMap)
    assert zones["alpha"].portals[0].to_zone == "beta"
    assert zones["alpha"].npc_spawns[0].npc == "rat"
