"""Frames the runtime writes itself (errors before/while closing), encoded as the sim encodes."""

from __future__ import annotations

from typing import Any

from worlds.sim.codec import encode_frame
from worlds.sim.frames import error_frame


def error_bytes(code: str, message: str, *, encoding: str = "json", **details: Any) -> bytes:
    return encode_frame(error_frame(code, message, **details), encoding)
