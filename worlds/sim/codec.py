"""Wire protocol: decoding client frames, encoding server frames, flood control. Pure Python.

The protocol itself is specified in ``docs/protocol.md``. The gateway (adapter) uses:

* ``decode_hello(raw) -> ClientHello``: the first frame of a connection, always JSON text.
* ``decode_client_frame(raw, encoding) -> Intent | ClientHello``: every later frame.
* ``encode_frame(frame, encoding) -> bytes``: standalone frames (welcome, error, bye). Tick
  frames come from ``ShardSim.tick`` already encoded. JSON bytes are UTF-8 text and go out as
  WebSocket text frames, msgpack as binary frames.
* ``ProtocolError(code, message)``: the only exception the decoders raise, for any input.
  ``exc.fatal`` says whether the gateway must close the connection (code 4000) after sending
  ``error_frame_for(exc)``, or just answer with that error frame and carry on.
* ``FloodGuard``: per-connection token bucket; ``check(now)`` says allow / drop / disconnect.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson
import ormsgpack

from worlds.sim.frames import error_frame
from worlds.sim.intents import (
    CHAT_CHANNELS,
    RESERVED_INTENTS,
    ChatIntent,
    ClientHello,
    EmoteIntent,
    FaceIntent,
    Intent,
    MoveIntent,
    PingIntent,
    StopIntent,
)

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
ENCODINGS = ("json", "msgpack")
MAX_FRAME_BYTES = 1024
MAX_SEQ = 2**31 - 1
MAX_COORDINATE = 1_000_000.0
MAX_CLIENT_MS = 1e13  # ~300 years of milliseconds; anything larger is garbage
MAX_TICKET_LENGTH = 512
MAX_EMOTE_LENGTH = 32
CHAT_MAX_LENGTH = 256

# Codes after which the gateway closes the connection (close code 4000) instead of carrying on.
FATAL_CODES = frozenset(
    {
        "bad_frame",
        "frame_too_large",
        "hello_required",
        "unsupported_version",
        "unsupported_encoding",
    }
)


class ProtocolError(Exception):
    """A client frame was rejected. ``code`` is stable and documented; ``message`` is for humans."""

    def __init__(self, code: str, message: str, *, seq: int | None = None, **details: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.seq = seq
        self.details = details

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CODES


def error_frame_for(exc: ProtocolError) -> dict[str, Any]:
    details = dict(exc.details)
    if exc.seq is not None:
        details["seq"] = exc.seq
    return error_frame(exc.code, exc.message, **details)


# -- decoding --------------------------------------------------------------------------------


def decode_hello(raw: bytes | str) -> ClientHello:
    """Decode the first frame of a connection (JSON); anything but a valid hello is fatal."""
    decoded = decode_client_frame(raw, "json")
    if not isinstance(decoded, ClientHello):
        raise ProtocolError("hello_required", "the first frame must be a hello frame")
    return decoded


def decode_client_frame(raw: bytes | str, encoding: str) -> Intent | ClientHello:
    """Decode and shape-check one client frame. Raises ProtocolError and nothing else."""
    payload = _parse(raw, encoding)
    move = _well_formed_move(payload)
    if move is not None:
        return move
    frame_type = payload.get("t")
    if not isinstance(frame_type, str):
        raise ProtocolError("bad_frame", "frame field 't' must be a string")
    if frame_type == "hello":
        return _decode_hello_fields(payload)
    decoder = _DECODERS.get(frame_type)
    if decoder is None:
        seq = payload.get("seq")
        seq = seq if _is_int(seq) and 1 <= seq <= MAX_SEQ else None
        if frame_type in RESERVED_INTENTS:
            raise ProtocolError(
                "unknown_intent",
                f"intent '{frame_type[:32]}' is reserved for a later version",
                seq=seq,
            )
        raise ProtocolError("unknown_intent", f"unknown intent '{frame_type[:32]}'", seq=seq)
    seq = _seq(payload)
    try:
        return decoder(_Fields(payload, seq))
    except _FieldError as exc:
        raise ProtocolError("invalid_intent", f"{frame_type}: {exc}", seq=seq) from None


def _parse(raw: bytes | str, encoding: str) -> dict[Any, Any]:
    if _too_large(raw):
        raise ProtocolError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        if encoding == "json":
            # orjson reads text as UTF-8 itself; a lone surrogate fails there as it would in
            # str.encode, with the same bad_frame answer.
            payload = orjson.loads(raw)
        elif encoding == "msgpack":
            if isinstance(raw, str):
                raise ProtocolError("bad_frame", "msgpack frames must be binary")
            payload = ormsgpack.unpackb(raw)  # raw is bytes here (str rejected above)
        else:
            raise ProtocolError("unsupported_encoding", f"unknown encoding '{encoding[:16]}'")
    except ProtocolError:
        raise
    except Exception:
        raise ProtocolError("bad_frame", f"frame is not valid {encoding}") from None
    if not isinstance(payload, dict):
        raise ProtocolError("bad_frame", "a frame must be an object (map)")
    return payload


def _too_large(raw: bytes | str) -> bool:
    if len(raw) > MAX_FRAME_BYTES:
        return True
    # A code point is at most 4 bytes of UTF-8: only a longer text must be encoded to tell.
    return (
        isinstance(raw, str)
        and len(raw) > MAX_FRAME_BYTES // 4
        and len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
    )


def _decode_hello_fields(payload: dict[Any, Any]) -> ClientHello:
    version = payload.get("v")
    if not _is_int(version):
        raise ProtocolError("bad_frame", "hello field 'v' must be an integer")
    if version not in SUPPORTED_VERSIONS:
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {version} is not supported",
            supported=list(SUPPORTED_VERSIONS),
        )
    encoding = payload.get("enc", "json")
    if encoding not in ENCODINGS:
        raise ProtocolError(
            "unsupported_encoding",
            "hello field 'enc' must be one of " + ", ".join(ENCODINGS),
            supported=list(ENCODINGS),
        )
    ticket = payload.get("ticket")
    if not isinstance(ticket, str) or not 1 <= len(ticket) <= MAX_TICKET_LENGTH:
        raise ProtocolError("bad_frame", "hello field 'ticket' must be a non-empty string")
    return ClientHello(version=version, encoding=encoding, ticket=ticket)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _seq(payload: dict[Any, Any]) -> int:
    seq = payload.get("seq")
    if not _is_int(seq) or not 1 <= seq <= MAX_SEQ:
        raise ProtocolError("invalid_intent", f"field 'seq' must be an integer 1..{MAX_SEQ}")
    return int(seq)


class _FieldError(Exception):
    pass


class _Fields:
    """Typed access to the fields of one intent; failures become ``invalid_intent``."""

    def __init__(self, payload: dict[Any, Any], seq: int) -> None:
        self.payload = payload
        self.seq = seq

    def number(self, key: str, *, low: float, high: float, required: bool = True) -> float | None:
        value = self.payload.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _FieldError(f"field '{key}' must be a number")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise _FieldError(f"field '{key}' must be a finite number in [{low}, {high}]")
        return number

    def required_number(self, key: str, *, low: float, high: float) -> float:
        value = self.number(key, low=low, high=high)
        assert value is not None  # required=True never returns None
        return value

    def integer(self, key: str, *, low: int, high: int, default: int | None = None) -> int:
        value = self.payload.get(key, default)
        if not _is_int(value) or not low <= value <= high:
            raise _FieldError(f"field '{key}' must be an integer {low}..{high}")
        return int(value)

    def text(self, key: str, *, max_length: int) -> str:
        value = self.payload.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _FieldError(f"field '{key}' must be a non-empty string")
        if len(value) > max_length:
            raise _FieldError(f"field '{key}' is longer than {max_length} characters")
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise _FieldError(f"field '{key}' must not contain control characters")
        return value


def _quantise(value: float) -> float:
    """``round(value, 2)``, for a finite ``value`` within ``MAX_COORDINATE``.

    Positions travel with two decimals; validating the rounded value keeps client, server and
    every viewer on exactly the same number. Clients already send them quantised
    (``Math.round(v * 100) / 100``): such a value is the double nearest to cents / 100, and
    rounding it to two decimals gives it back, so it is returned without ``round``'s slow
    decimal conversion (about half the cost of a move's field checks).
    """
    if round(value * 100) / 100 == value:
        return value
    return round(value, 2)


def _move(fields: _Fields) -> MoveIntent:
    return MoveIntent(
        seq=fields.seq,
        x=_quantise(fields.required_number("x", low=-MAX_COORDINATE, high=MAX_COORDINATE)),
        y=_quantise(fields.required_number("y", low=-MAX_COORDINATE, high=MAX_COORDINATE)),
        ct=fields.required_number("ct", low=0.0, high=MAX_CLIENT_MS),
        cid=fields.integer("cid", low=0, high=MAX_SEQ, default=0),
    )


def _well_formed_move(payload: dict[Any, Any]) -> MoveIntent | None:
    """The ``MoveIntent`` of a well-formed move frame, or None for anything else.

    The fast path for the frame clients send ten times a second: only keys ``t seq x y ct`` and
    an optional ``cid``, each of the exact type and in range. It returns what ``_move`` would;
    anything else (including every invalid move) returns None and takes the generic path, which
    owns all the error codes and messages.
    """
    if payload.get("t") != "move" or len(payload) != 5 + ("cid" in payload):
        return None
    seq, x, y, ct = payload.get("seq"), payload.get("x"), payload.get("y"), payload.get("ct")
    cid = payload.get("cid", 0)
    if type(seq) is not int or type(cid) is not int:  # exact: bool is an int subclass
        return None
    if not (1 <= seq <= MAX_SEQ and 0 <= cid <= MAX_SEQ):
        return None
    if not (_is_plain_number(x) and _is_plain_number(y) and _is_plain_number(ct)):
        return None
    # Range checks also refuse NaN (every comparison with NaN is false) and the infinities.
    if not (
        -MAX_COORDINATE <= x <= MAX_COORDINATE
        and -MAX_COORDINATE <= y <= MAX_COORDINATE
        and 0.0 <= ct <= MAX_CLIENT_MS
    ):
        return None
    return MoveIntent(seq, _quantise(float(x)), _quantise(float(y)), float(ct), cid)


def _is_plain_number(value: object) -> TypeGuard[float]:
    kind = type(value)
    return kind is float or kind is int


def _stop(fields: _Fields) -> StopIntent:
    return StopIntent(seq=fields.seq)


def _face(fields: _Fields) -> FaceIntent:
    return FaceIntent(seq=fields.seq, facing=fields.integer("f", low=0, high=7))


def _chat(fields: _Fields) -> ChatIntent:
    channel = fields.payload.get("ch", "say")
    if not isinstance(channel, str) or channel not in CHAT_CHANNELS:  # a list is unhashable
        raise _FieldError("field 'ch' must be one of " + ", ".join(sorted(CHAT_CHANNELS)))
    return ChatIntent(
        seq=fields.seq, channel=channel, text=fields.text("text", max_length=CHAT_MAX_LENGTH)
    )


def _emote(fields: _Fields) -> EmoteIntent:
    return EmoteIntent(seq=fields.seq, emote=fields.text("emote", max_length=MAX_EMOTE_LENGTH))


def _ping(fields: _Fields) -> PingIntent:
    return PingIntent(
        seq=fields.seq,
        ct=fields.required_number("ct", low=0.0, high=MAX_CLIENT_MS),
        echo=fields.number("echo", low=0.0, high=MAX_CLIENT_MS, required=False),
        held=fields.number("held", low=0.0, high=MAX_CLIENT_MS, required=False),
    )


_DECODERS: dict[str, Any] = {
    "move": _move,
    "stop": _stop,
    "face": _face,
    "chat": _chat,
    "emote": _emote,
    "ping": _ping,
}


# -- encoding --------------------------------------------------------------------------------


def encode_frame(frame: dict[str, Any], encoding: str) -> bytes:
    """Encode a standalone server frame (welcome / error / bye / any dict)."""
    if encoding == "json":
        return orjson.dumps(frame)
    if encoding == "msgpack":
        return ormsgpack.packb(frame)
    raise ValueError(f"unknown encoding {encoding!r}")


def decode_server_frame(raw: bytes | str, encoding: str) -> dict[str, Any]:
    """Decode a server frame (for bots and tests)."""
    if encoding == "json":
        value = orjson.loads(raw)
    else:
        value = ormsgpack.unpackb(raw.encode() if isinstance(raw, str) else raw)
    if not isinstance(value, dict):
        raise ValueError("server frames are objects")
    return value


# -- flood control ---------------------------------------------------------------------------


class FloodVerdict(enum.Enum):
    ALLOW = "allow"
    DROP = "drop"  # over the rate: ignore the frame silently
    DROP_AND_NOTIFY = "drop_and_notify"  # same, and send error ``rate_limited`` (<= 1/s)
    DISCONNECT = "disconnect"  # sustained flood: send bye/error ``flood``, close 4003


@dataclass
class FloodGuard:
    """Token bucket per connection (TrinityCore DosProtection-style budget, but smooth).

    ``rate`` frames per second are allowed on average, with bursts up to ``burst``. Every
    dropped frame adds a strike; strikes drain at ``strike_decay`` per second; more than
    ``strike_limit`` pending strikes means a sustained flood.
    """

    rate: float = 30.0
    burst: float = 60.0
    strike_limit: float = 60.0
    strike_decay: float = 5.0
    _tokens: float | None = None
    _strikes: float = 0.0
    _last: float = 0.0
    _last_notice: float = -math.inf

    def try_take(self, now: float) -> bool:
        """Take a token if one is there; False changes nothing ``check`` would not redo
        (the refill is idempotent), so a caller may then ``check`` for the full verdict."""
        self._refill(now)
        if self._tokens is not None and self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _refill(self, now: float) -> None:
        if self._tokens is None:
            self._tokens = self.burst
            self._last = now
        elapsed = max(now - self._last, 0.0)
        self._last = max(now, self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._strikes = max(0.0, self._strikes - elapsed * self.strike_decay)

    def check(self, now: float) -> FloodVerdict:
        self._refill(now)
        assert self._tokens is not None  # set by the refill
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return FloodVerdict.ALLOW
        self._strikes += 1.0
        if self._strikes > self.strike_limit:
            return FloodVerdict.DISCONNECT
        if now - self._last_notice >= 1.0:
            self._last_notice = now
            return FloodVerdict.DROP_AND_NOTIFY
        return FloodVerdict.DROP
