"""Zone maps for the Django side: loaded once per process from ``settings.CONTENT_DIR / "zones"``
with the simulation's validating loader, at start-up (``WorldsConfig.ready``).

A malformed zone file stops start-up with ImproperlyConfigured naming the file and the fault.
"""

from __future__ import annotations

import pathlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from worlds.sim.zonemap import (
    DEFAULT_SPAWN_ID,
    SpawnPoint,
    ZoneContentError,
    ZoneMap,
    load_zone_dir,
)

# Where new characters appear (the issue: "New characters spawn in zone town").
STARTING_ZONE_ID = "town"

_zone_maps: dict[str, ZoneMap] | None = None


def zone_maps_load() -> dict[str, ZoneMap]:
    """(Re)load and validate every zone file; keep the result for this process."""
    global _zone_maps
    zones_dir = pathlib.Path(settings.CONTENT_DIR) / "zones"
    if not zones_dir.is_dir():
        raise ImproperlyConfigured(f"Zone content is missing: {zones_dir} is not a directory")
    try:
        zones = load_zone_dir(zones_dir)
    except ZoneContentError as exc:
        raise ImproperlyConfigured(f"Zone content is invalid: {exc}") from exc
    starting = zones.get(STARTING_ZONE_ID)
    if starting is None or DEFAULT_SPAWN_ID not in starting.spawn_points:
        raise ImproperlyConfigured(
            f"Zone content is invalid: {zones_dir}: the starting zone '{STARTING_ZONE_ID}' with a "
            f"'{DEFAULT_SPAWN_ID}' spawn point is required"
        )
    _zone_maps = zones
    return zones


def get_zone_maps() -> dict[str, ZoneMap]:
    return _zone_maps if _zone_maps is not None else zone_maps_load()


def starting_spawn_point() -> tuple[str, SpawnPoint]:
    """The zone id and spawn point where a new character enters the world."""
    return STARTING_ZONE_ID, get_zone_maps()[STARTING_ZONE_ID].spawn_points[DEFAULT_SPAWN_ID]
