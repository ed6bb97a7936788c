"""Property tests: no input makes the decoders raise anything but ProtocolError."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import ormsgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from worlds.sim import ClientHello, ProtocolError, decode_client_frame, decode_hello
from worlds.sim.intents import ChatIntent, EmoteIntent, FaceIntent, MoveIntent, PingIntent

INTENT_TYPES = (ClientHello, MoveIntent, ChatIntent, EmoteIntent, FaceIntent, PingIntent)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
known_types = st.sampled_from(
    ["hello", "move", "stop", "face", "chat", "emote", "ping", "attack", "trade_offer", "x"]
)
field_names = st.sampled_from(
    ["seq", "x", "y", "ct", "cid", "f", "ch", "text", "emote", "echo", "held", "v", "enc", "ticket"]
)
frames = st.builds(
    lambda kind, fields: {"t": kind, **fields},
    known_types,
    st.dictionaries(field_names, json_values, max_size=8),
)


def decode_only_protocol_errors(raw: bytes | str, encoding: str) -> None:
    try:
        decoded = decode_client_frame(raw, encoding)
    except ProtocolError as error:
        assert error.code and error.message
        return
    assert isinstance(decoded, INTENT_TYPES) or decoded.__class__.__name__ == "StopIntent"


@settings(max_examples=400)
@given(st.binary(max_size=1200))
def test_arbitrary_bytes(raw: bytes) -> None:
    decode_only_protocol_errors(raw, "json")
    decode_only_protocol_errors(raw, "msgpack")


@settings(max_examples=300)
@given(st.text(max_size=1200))
def test_arbitrary_text(raw: str) -> None:
    decode_only_protocol_errors(raw, "json")
    decode_only_protocol_errors(raw, "msgpack")
    with contextlib.suppress(ProtocolError):
        decode_hello(raw)


def _json(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return None


@settings(max_examples=500)
@given(frames)
def test_frames_with_plausible_shapes(frame: dict[str, Any]) -> None:
    raw = _json(frame)
    if raw is not None:
        decode_only_protocol_errors(raw, "json")
    try:
        packed = ormsgpack.packb(frame)
    except (ormsgpack.MsgpackEncodeError, TypeError, OverflowError):
        return
    decode_only_protocol_errors(packed, "msgpack")


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_structures(value: Any) -> None:
    raw = _json(value)
    if raw is not None:
        decode_only_protocol_errors(raw, "json")
    try:
        packed = ormsgpack.packb(value)
    except (ormsgpack.MsgpackEncodeError, TypeError, OverflowError):
        return
    decode_only_protocol_errors(packed, "msgpack")


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e5, max_value=1e5))
def test_decoded_positions_have_two_decimals(x: float) -> None:
    intent = decode_client_frame(
        orjson.dumps({"t": "move", "seq": 1, "x": x, "y": 0, "ct": 0}), "json"
    )
    assert isinstance(intent, MoveIntent)
    assert intent.x == round(x, 2)
