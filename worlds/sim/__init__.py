"""Pure-Python simulation core of the world server (no Django, Channels or Celery imports).

Everything here is deterministic: the clock (``now`` in seconds) is passed in by the caller and
nothing is random. Adapters use the names exported below; the modules are:

* ``zonemap``: zone content files (tiles, spawn points, portals, NPC spawns) and validation.
* ``config``: ``SimConfig``, every tunable number with the reason for its default.
* ``intents``: decoded client intents (move, stop, face, chat, emote, ping) and the hello.
* ``codec``: wire protocol (JSON / msgpack), ``ProtocolError``, ``FloodGuard``.
* ``world``: ``ShardSim``, the simulation of the zones one shard owns (start here).
* ``zone``, ``movement``, ``aoi``, ``frames``: its parts (zone arrays, move validation, area of
  interest, per-client frame assembly).
* ``entities``: ``PlayerState`` (durable state in and out) and the runtime ``Player``.
"""

from worlds.sim.codec import (
    FATAL_CODES,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    FloodGuard,
    FloodVerdict,
    ProtocolError,
    decode_client_frame,
    decode_hello,
    decode_server_frame,
    encode_frame,
    error_frame_for,
)
from worlds.sim.config import SimConfig
from worlds.sim.entities import ChatRecord, PlayerState, SuspicionReport
from worlds.sim.frames import bye_frame, error_frame
from worlds.sim.intents import (
    ChatIntent,
    ClientControl,
    ClientHello,
    EmoteIntent,
    FaceIntent,
    Intent,
    MoveIntent,
    PingIntent,
    StopIntent,
)
from worlds.sim.world import (
    DuplicatePlayer,
    ShardSim,
    SimError,
    TickOutput,
    UnknownConnection,
    ZoneNotOwned,
    ZoneTransfer,
)
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
    "FATAL_CODES",
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS",
    "ChatIntent",
    "ChatRecord",
    "ClientControl",
    "ClientHello",
    "DuplicatePlayer",
    "EmoteIntent",
    "FaceIntent",
    "FloodGuard",
    "FloodVerdict",
    "Intent",
    "MoveIntent",
    "NpcSpawn",
    "PingIntent",
    "PlayerState",
    "Portal",
    "ProtocolError",
    "ShardSim",
    "SimConfig",
    "SimError",
    "SpawnPoint",
    "StopIntent",
    "SuspicionReport",
    "TickOutput",
    "TileKind",
    "UnknownConnection",
    "ZoneContentError",
    "ZoneMap",
    "ZoneNotOwned",
    "ZoneTransfer",
    "bye_frame",
    "decode_client_frame",
    "decode_hello",
    "decode_server_frame",
    "encode_frame",
    "error_frame",
    "error_frame_for",
    "load_zone_dir",
    "load_zone_file",
]
