"""The move fast path of ``decode_client_frame`` answers exactly what the generic path answers.

Valid and near-valid move frames (wrong types, bounds, NaN, missing or extra keys) are decoded
twice, with and without the fast path: same intent (bit for bit), or same error code, message
and seq.
"""

from __future__ import annotations

import contextlib
from typing import Any
from unittest import mock

import orjson
import ormsgpack
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from worlds.sim import codec
from worlds.sim.codec import MAX_CLIENT_MS, MAX_COORDINATE, MAX_SEQ, decode_client_frame
from worlds.sim.intents import MoveIntent

Outcome = tuple[Any, ...]

odd_values = st.sampled_from(
    [None, True, False, "1", [], {}, 1.0, -0.0, 0.005, -0.005, 2**31, 2**53 + 1]
)
edge_numbers = st.sampled_from(
    [
        0,
        -0.0,
        MAX_COORDINATE,
        -MAX_COORDINATE,
        MAX_COORDINATE + 0.001,
        -MAX_COORDINATE - 0.004,
        MAX_CLIENT_MS,
        MAX_CLIENT_MS * 1.000001,
        float("nan"),
        float("inf"),
        -float("inf"),
    ]
)
cents = st.integers(min_value=-100_000_000, max_value=100_000_000).map(lambda n: n / 100)
coordinates = st.one_of(
    cents,
    st.floats(min_value=-MAX_COORDINATE, max_value=MAX_COORDINATE),
    st.floats(min_value=-3 * MAX_COORDINATE, max_value=3 * MAX_COORDINATE),
    st.integers(min_value=-3_000_000, max_value=3_000_000),
    st.floats(),
    edge_numbers,
    odd_values,
)
client_clocks = st.one_of(
    st.floats(min_value=0.0, max_value=MAX_CLIENT_MS),
    st.floats(min_value=-MAX_CLIENT_MS, max_value=3 * MAX_CLIENT_MS),
    st.integers(min_value=-1, max_value=3 * int(MAX_CLIENT_MS)),
    st.integers(min_value=-1, max_value=2**63 - 1),
    edge_numbers,
    odd_values,
)
counters = st.one_of(
    st.integers(min_value=-2, max_value=MAX_SEQ + 2),
    st.sampled_from([1, MAX_SEQ, 0, MAX_SEQ + 1]),
    odd_values,
)
move_payloads = st.fixed_dictionaries(
    {
        "t": st.sampled_from(["move", "move", "move", "Move", "stop"]),
        "seq": counters,
        "x": coordinates,
        "y": coordinates,
        "ct": client_clocks,
    },
    optional={"cid": counters, "extra": odd_values},
)
valid_coordinates = cents | st.floats(min_value=-MAX_COORDINATE, max_value=MAX_COORDINATE)
valid_moves = st.fixed_dictionaries(
    {
        "t": st.just("move"),
        "seq": st.integers(min_value=1, max_value=MAX_SEQ),
        "x": valid_coordinates,
        "y": valid_coordinates,
        "ct": st.floats(min_value=0.0, max_value=MAX_CLIENT_MS),
    },
    optional={"cid": st.integers(min_value=0, max_value=MAX_SEQ)},
)
MISSING = object()


def _with_one_field_changed(payload: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = dict(payload)
    if value is MISSING:
        changed.pop(key, None)
    else:
        changed[key] = value
    return changed


# One field of a valid move off (or dropped, or one key too many): the cases a fast path
# is most likely to get wrong.
def _one_field_changed(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(_with_one_field_changed, valid_moves, st.just(key), values | st.just(MISSING))


def _around(limit: float) -> st.SearchStrategy[float]:
    """Numbers on both sides of +-limit (up to three times it)."""
    return st.floats(min_value=-3 * limit, max_value=3 * limit) | st.floats(
        min_value=0.9 * limit, max_value=1.1 * limit
    ).flatmap(lambda value: st.sampled_from([value, -value]))


near_valid_moves = st.one_of(
    _one_field_changed("t", st.sampled_from(["Move", "stop", "", "movee"]) | odd_values),
    _one_field_changed("seq", counters),
    _one_field_changed("x", coordinates | _around(MAX_COORDINATE)),
    _one_field_changed("y", coordinates | _around(MAX_COORDINATE)),
    _one_field_changed("ct", client_clocks | _around(MAX_CLIENT_MS)),
    _one_field_changed("cid", counters),
    _one_field_changed("extra", odd_values),
)


def _outcome(raw: bytes | str, encoding: str) -> Outcome:
    try:
        intent = decode_client_frame(raw, encoding)
    except codec.ProtocolError as error:
        return ("error", error.code, error.message, error.seq, error.details)
    return ("intent", type(intent), repr(intent))  # repr: tells -0.0 from 0.0, 1 from 1.0


def _generic_outcome(raw: bytes | str, encoding: str) -> Outcome:
    with mock.patch.object(codec, "_well_formed_move", return_value=None):
        return _outcome(raw, encoding)


def _wire_forms(payload: dict[str, Any]) -> list[tuple[bytes, str]]:
    forms = [(orjson.dumps(payload), "json")]
    with contextlib.suppress(ormsgpack.MsgpackEncodeError, OverflowError, TypeError):
        forms.append((ormsgpack.packb(payload), "msgpack"))  # else: JSON only
    return forms


@settings(max_examples=2000)
@given(st.one_of(move_payloads, valid_moves, near_valid_moves))
def test_fast_and_generic_paths_agree_on_move_frames(payload: dict[str, Any]) -> None:
    for raw, encoding in _wire_forms(payload):
        fast = _outcome(raw, encoding)
        event(f"{encoding}: {fast[0]}")
        assert fast == _generic_outcome(raw, encoding)


@settings(max_examples=500)
@given(
    st.integers(min_value=1, max_value=MAX_SEQ),
    cents,
    st.floats(min_value=-MAX_COORDINATE, max_value=MAX_COORDINATE),
    st.floats(min_value=0.0, max_value=MAX_CLIENT_MS) | st.integers(0, int(MAX_CLIENT_MS)),
    st.integers(min_value=0, max_value=MAX_SEQ),
)
def test_well_formed_moves_take_the_fast_path(
    seq: int, x: float, y: float, ct: float, cid: int
) -> None:
    payload = {"t": "move", "seq": seq, "x": x, "y": y, "ct": ct, "cid": cid}

    fast = codec._well_formed_move(orjson.loads(orjson.dumps(payload)))

    assert fast == MoveIntent(seq, round(x, 2), round(y, 2), float(ct), cid)


@pytest.mark.parametrize(
    "frame",
    [
        '{"t":"move","seq":1,"x":1,"y":2,"ct":3,"cid":true}',
        '{"t":"move","seq":1,"x":1,"y":2}',
        '{"t":"move","seq":1,"x":1,"y":2,"ct":3,"who":"me"}',
        '{"t":"move","seq":1.0,"x":1,"y":2,"ct":3}',
        '{"t":"move","seq":1,"x":"1","y":2,"ct":3}',
    ],
)
def test_anything_but_a_well_formed_move_takes_the_generic_path(frame: str) -> None:
    assert codec._well_formed_move(orjson.loads(frame)) is None


@settings(max_examples=1000)
@given(
    st.one_of(
        cents,
        cents.map(lambda value: value + 0.005),
        st.floats(min_value=-MAX_COORDINATE, max_value=MAX_COORDINATE),
    )
)
def test_quantise_is_round_to_two_decimals(value: float) -> None:
    assert repr(codec._quantise(value)) == repr(round(value, 2))
