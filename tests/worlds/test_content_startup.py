"""Zone and character content are validated at start-up: a malformed file stops the process
with a message that names the file and the fault."""

from __future__ import annotations

import json
import pathlib
import shutil
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import characters.content
import worlds.content

REAL_CONTENT = pathlib.Path(settings.CONTENT_DIR)


@pytest.fixture
def content_dir(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A copy of the shipped content to break; the real content is reloaded afterwards."""
    copy = tmp_path / "content"
    (copy / "zones").mkdir(parents=True)
    for zone_file in (REAL_CONTENT / "zones").glob("*.json"):
        shutil.copy(zone_file, copy / "zones")
    for name in ("characters.json", "reserved_names.txt"):
        shutil.copy(REAL_CONTENT / name, copy / name)
    with override_settings(CONTENT_DIR=copy):
        yield copy
    worlds.content.zone_maps_load()
    characters.content.character_content_load()


def start_up() -> None:
    """What Django does at start-up for our apps."""
    apps.get_app_config("worlds").ready()
    apps.get_app_config("characters").ready()


def test_shipped_content_loads_with_the_three_zones() -> None:
    zones = worlds.content.zone_maps_load()

    assert {"town", "field", "dungeon_entrance"} <= set(zones)
    assert {z.kind for z in zones.values()} >= {"town", "field", "dungeon"}
    assert "default" in zones["town"].spawn_points


def test_valid_copy_starts(content_dir: pathlib.Path) -> None:
    start_up()


def test_malformed_zone_json_stops_start_up_naming_the_file(content_dir: pathlib.Path) -> None:
    (content_dir / "zones" / "field.json").write_text("{not json")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "field.json" in str(excinfo.value)
    assert "JSON" in str(excinfo.value) or "json" in str(excinfo.value)


def test_portal_to_unknown_zone_stops_start_up_naming_file_and_fault(
    content_dir: pathlib.Path,
) -> None:
    path = content_dir / "zones" / "field.json"
    data = json.loads(path.read_text())
    data["portals"][0]["to_zone"] = "twon"
    path.write_text(json.dumps(data))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "field.json" in str(excinfo.value)
    assert "twon" in str(excinfo.value)


def test_missing_starting_zone_stops_start_up(content_dir: pathlib.Path) -> None:
    town = content_dir / "zones" / "town.json"
    data = json.loads(town.read_text())
    for zone_file in (content_dir / "zones").glob("*.json"):
        zone_file.unlink()
    data["portals"] = []
    data["id"] = "village"
    (content_dir / "zones" / "village.json").write_text(json.dumps(data))

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "'town'" in str(excinfo.value)


def test_missing_zone_directory_stops_start_up(content_dir: pathlib.Path) -> None:
    shutil.rmtree(content_dir / "zones")

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "zones" in str(excinfo.value)


def _edit_characters(content_dir: pathlib.Path, edit) -> None:
    path = content_dir / "characters.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "fault"),
    [
        (lambda d: d["classes"]["mage"]["base"].pop("int"), "class 'mage'.base: missing int"),
        (lambda d: d["classes"]["mage"]["base"].update(hp="lots"), "class 'mage'.base.hp"),
        (lambda d: d["classes"]["mage"]["base"].update(hp=True), "class 'mage'.base.hp"),
        (lambda d: d["races"]["orc"]["modifiers"].update(luck=3), "unknown field luck"),
        (lambda d: d["races"]["elf"]["modifiers"].update(str=-50), "below 1"),
        (lambda d: d["races"].update({"Big Ogre": d["races"]["orc"]}), "Big Ogre"),
        (lambda d: d["appearance"]["hair"].update(min=9), "min 9 is above max 8"),
        (lambda d: d["appearance"]["colors"].update(ember="red"), "#rrggbb"),
        (lambda d: d.update(format=2), "unsupported format"),
        (lambda d: d.update(classes={}), "at least one class"),
        (lambda d: d.pop("races"), "missing races"),
    ],
)
def test_bad_character_content_stops_start_up_naming_file_and_fault(
    content_dir: pathlib.Path, edit, fault: str
) -> None:
    _edit_characters(content_dir, edit)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "characters.json" in str(excinfo.value)
    assert fault in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("admin\n", "before a [reserved] or [offensive] header"),
        ("[reserved]\nad min\n", "line 2"),
        ("[offensive]\nb4d\n", "not letters only"),
        ("# nothing\n", "no names listed"),
    ],
)
def test_bad_reserved_names_stop_start_up(content_dir: pathlib.Path, text: str, fault: str) -> None:
    (content_dir / "reserved_names.txt").write_text(text)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "reserved_names.txt" in str(excinfo.value)
    assert fault in str(excinfo.value)


def test_missing_character_content_file_stops_start_up(content_dir: pathlib.Path) -> None:
    (content_dir / "characters.json").unlink()

    with pytest.raises(ImproperlyConfigured) as excinfo:
        start_up()

    assert "characters.json" in str(excinfo.value)
