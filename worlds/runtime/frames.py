"""Frames the gateway itself writes (before a shard owns the connection, or when closing it).

Shapes are those of docs/protocol.md; the shard's frames come from ``worlds.sim.codec``.
"""

from __future__ import annotations

from typing import Any

import orjson
import ormsgpack


def encode(frame: dict[str, Any], encoding: str = "json") -> bytes | str:
    if encoding == "msgpack":
        return ormsgpack.packb(frame)
    return orjson.dumps(frame).decode()


def error_frame(code: str, message: str, *, encoding: str = "json", **extra: Any) -> bytes | str:
    return encode({"t": "error", "code": code, "message": message, **extra}, encoding)
