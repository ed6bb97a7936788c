"""Character content: classes, races, appearance options and the reserved-name list.

Both files live under ``settings.CONTENT_DIR`` and are validated at start-up
(``CharactersConfig.ready``); a fault stops the process with a message naming the file and the
fault. The readers here are pure (path in, frozen data out) so tests feed them temp files.

``content/characters.json``::

    {"format": 1,
     "classes": {"warrior": {"name": "Warrior", "description": "...", "resource": "rage",
                             "base": {"hp": 120, "resource": 100, "str": 14, "agi": 10,
                                      "int": 5, "spi": 7}}},
     "races": {"human": {"name": "Human", "description": "...",
                         "modifiers": {"hp": 0, "str": 1, "agi": 1, "int": 1, "spi": 1}}},
     "appearance": {"body": {"min": 1, "max": 4}, "hair": {"min": 1, "max": 8},
                    "colors": {"ember": "#b5523b"}}}

``content/reserved_names.txt``: ``[reserved]`` lines are whole names, ``[offensive]`` lines are
stems refused anywhere in a name; ``#`` starts a comment line.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CHARACTER_CONTENT_FORMAT = 1
PRIMARY_STATS = ("str", "agi", "int", "spi")
_BASE_KEYS = frozenset({"hp", "resource", *PRIMARY_STATS})
_MODIFIER_KEYS = frozenset({"hp", *PRIMARY_STATS})
_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,19}")
_COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
_NAME_ENTRY_PATTERN = re.compile(r"[a-z]+")


class CharacterContentError(Exception):
    """A character content file is unreadable or inconsistent; names the file and the fault."""


@dataclass(frozen=True)
class CharacterClass:
    id: str
    name: str
    description: str
    resource_type: str
    base: dict[str, int]


@dataclass(frozen=True)
class Race:
    id: str
    name: str
    description: str
    modifiers: dict[str, int]


@dataclass(frozen=True)
class AppearanceOptions:
    body_min: int
    body_max: int
    hair_min: int
    hair_max: int
    colors: dict[str, str]  # palette key -> "#rrggbb"


@dataclass(frozen=True)
class CharacterContent:
    classes: dict[str, CharacterClass]
    races: dict[str, Race]
    appearance: AppearanceOptions


@dataclass(frozen=True)
class ReservedNames:
    exact: frozenset[str]  # casefolded whole names
    stems: tuple[str, ...]  # casefolded substrings

    def refuses(self, name: str) -> bool:
        key = name.casefold()
        return key in self.exact or any(stem in key for stem in self.stems)


def load_character_content(path: pathlib.Path) -> CharacterContent:
    """Read and validate ``characters.json``; raise CharacterContentError on any fault."""
    reader = _Reader(path)
    data = reader.object(_read_json(path), "top level")
    reader.keys(data, "top level", required={"format", "classes", "races", "appearance"})
    if data["format"] != CHARACTER_CONTENT_FORMAT:
        reader.fail(f"unsupported format {data['format']!r} (expected {CHARACTER_CONTENT_FORMAT})")
    classes = {
        class_id: reader.character_class(class_id, raw)
        for class_id, raw in reader.object(data["classes"], "classes").items()
    }
    races = {
        race_id: reader.race(race_id, raw)
        for race_id, raw in reader.object(data["races"], "races").items()
    }
    if not classes or not races:
        reader.fail("needs at least one class and one race")
    for class_ in classes.values():
        for race in races.values():
            if min(_starting_values(class_, race).values()) < 1:
                reader.fail(f"race '{race.id}' brings a stat of class '{class_.id}' below 1")
    return CharacterContent(
        classes=classes, races=races, appearance=reader.appearance(data["appearance"])
    )


def load_reserved_names(path: pathlib.Path) -> ReservedNames:
    """Read ``reserved_names.txt``; raise CharacterContentError on any fault."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CharacterContentError(f"{path}: cannot read: {exc}") from exc
    exact: set[str] = set()
    stems: list[str] = []
    section: str | None = None
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("[reserved]", "[offensive]"):
            section = line[1:-1]
            continue
        entry = line.casefold()
        if section is None:
            raise CharacterContentError(
                f"{path}: line {number}: '{line}' comes before a [reserved] or [offensive] header"
            )
        if not _NAME_ENTRY_PATTERN.fullmatch(entry):
            raise CharacterContentError(f"{path}: line {number}: '{line}' is not letters only")
        if section == "reserved":
            exact.add(entry)
        else:
            stems.append(entry)
    if not exact and not stems:
        raise CharacterContentError(f"{path}: no names listed")
    return ReservedNames(exact=frozenset(exact), stems=tuple(stems))


def starting_values(*, class_: CharacterClass, race: Race) -> dict[str, int]:
    """A new character's maximum HP, maximum resource and primary stats."""
    return _starting_values(class_, race)


def _starting_values(class_: CharacterClass, race: Race) -> dict[str, int]:
    values = dict(class_.base)
    for key, modifier in race.modifiers.items():
        values[key] = values[key] + modifier
    return values


def _read_json(path: pathlib.Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CharacterContentError(f"{path}: cannot read: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise CharacterContentError(f"{path}: invalid JSON: {exc}") from exc


class _Reader:
    """Validation helpers; every failure message starts with the file path."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def fail(self, fault: str) -> NoReturn:
        raise CharacterContentError(f"{self.path}: {fault}")

    def object(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(f"{where} must be an object")
        return value

    def keys(self, value: dict[str, Any], where: str, *, required: set[str]) -> None:
        missing = sorted(required - value.keys())
        if missing:
            self.fail(f"{where}: missing {', '.join(missing)}")
        unknown = sorted(value.keys() - required)
        if unknown:
            self.fail(f"{where}: unknown field {', '.join(unknown)}")

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where} must be a non-empty string")
        return value

    def integer(self, value: Any, where: str, *, minimum: int, maximum: int) -> int:
        # bool is an int subclass; "true" is never a valid stat.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"{where} must be an integer")
        if not minimum <= value <= maximum:
            self.fail(f"{where} must be between {minimum} and {maximum}, got {value}")
        return value

    def content_id(self, value: str, where: str) -> str:
        if not _ID_PATTERN.fullmatch(value):
            self.fail(f"{where}: id '{value}' must be lower-case letters, digits or _")
        return value

    def stat_table(
        self, value: Any, where: str, *, keys: frozenset[str], minimum: int, maximum: int
    ) -> dict[str, int]:
        table = self.object(value, where)
        self.keys(table, where, required=set(keys))
        return {
            key: self.integer(table[key], f"{where}.{key}", minimum=minimum, maximum=maximum)
            for key in sorted(keys)
        }

    def character_class(self, class_id: str, raw: Any) -> CharacterClass:
        where = f"class '{class_id}'"
        self.content_id(class_id, where)
        data = self.object(raw, where)
        self.keys(data, where, required={"name", "description", "resource", "base"})
        return CharacterClass(
            id=class_id,
            name=self.text(data["name"], f"{where}.name"),
            description=self.text(data["description"], f"{where}.description"),
            resource_type=self.content_id(
                self.text(data["resource"], f"{where}.resource"), f"{where}.resource"
            ),
            base=self.stat_table(
                data["base"], f"{where}.base", keys=_BASE_KEYS, minimum=1, maximum=10_000
            ),
        )

    def race(self, race_id: str, raw: Any) -> Race:
        where = f"race '{race_id}'"
        self.content_id(race_id, where)
        data = self.object(raw, where)
        self.keys(data, where, required={"name", "description", "modifiers"})
        return Race(
            id=race_id,
            name=self.text(data["name"], f"{where}.name"),
            description=self.text(data["description"], f"{where}.description"),
            modifiers=self.stat_table(
                data["modifiers"],
                f"{where}.modifiers",
                keys=_MODIFIER_KEYS,
                minimum=-1000,
                maximum=1000,
            ),
        )

    def appearance(self, raw: Any) -> AppearanceOptions:
        data = self.object(raw, "appearance")
        self.keys(data, "appearance", required={"body", "hair", "colors"})
        body_min, body_max = self.option_range(data["body"], "appearance.body")
        hair_min, hair_max = self.option_range(data["hair"], "appearance.hair")
        colors = self.object(data["colors"], "appearance.colors")
        if not colors:
            self.fail("appearance.colors must list at least one color")
        for key, value in colors.items():
            self.content_id(key, "appearance.colors")
            if not isinstance(value, str) or not _COLOR_PATTERN.fullmatch(value):
                self.fail(f"appearance.colors.{key} must be '#rrggbb'")
        return AppearanceOptions(
            body_min=body_min,
            body_max=body_max,
            hair_min=hair_min,
            hair_max=hair_max,
            colors=dict(colors),
        )

    def option_range(self, raw: Any, where: str) -> tuple[int, int]:
        data = self.object(raw, where)
        self.keys(data, where, required={"min", "max"})
        low = self.integer(data["min"], f"{where}.min", minimum=1, maximum=100)
        high = self.integer(data["max"], f"{where}.max", minimum=1, maximum=100)
        if low > high:
            self.fail(f"{where}: min {low} is above max {high}")
        return low, high


# --- Loaded once per process (validated at start-up by CharactersConfig.ready) ----------------

_loaded: tuple[CharacterContent, ReservedNames] | None = None


def character_content_load() -> tuple[CharacterContent, ReservedNames]:
    """Load both files from ``settings.CONTENT_DIR`` and keep them for this process.

    Raises ImproperlyConfigured (stopping start-up) naming the file and the fault.
    """
    global _loaded
    content_dir = pathlib.Path(settings.CONTENT_DIR)
    try:
        loaded = (
            load_character_content(content_dir / "characters.json"),
            load_reserved_names(content_dir / "reserved_names.txt"),
        )
    except CharacterContentError as exc:
        raise ImproperlyConfigured(f"Character content is invalid: {exc}") from exc
    _loaded = loaded
    return loaded


def get_character_content() -> CharacterContent:
    return (_loaded or character_content_load())[0]


def get_reserved_names() -> ReservedNames:
    return (_loaded or character_content_load())[1]
