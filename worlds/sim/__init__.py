"""Pure-Python simulation core of the world server (no Django, Channels or Celery imports).

Everything here is deterministic: the clock (tick number / ``now``) and randomness are passed in
by the caller. Modules:

* ``zonemap``: zone content files (tiles, spawn points, portals, NPC spawns) and their validation.
"""

from worlds.sim.zonemap import (
    DEFAULT_SPAWN_ID,
    NpcSpawn,
    Portal,
    SpawnPoint,
    TileKind,
    ZoneContentError,
    ZoneMap,
    load_zone_dir,
    load_zone_file,
)

__all__ = [
    "DEFAULT_SPAWN_ID",
    "NpcSpawn",
    "Portal",
    "SpawnPoint",
    "TileKind",
    "ZoneContentError",
    "ZoneMap",
    "load_zone_dir",
    "load_zone_file",
]
