"""Wire codec: every client frame type, every rejection, encoding, and the flood guard."""

from __future__ import annotations

from typing import Any

import orjson
import ormsgpack
import pytest

from worlds.sim import (
    ChatIntent,
    ClientHello,
    EmoteIntent,
    FaceIntent,
    FloodGuard,
    FloodVerdict,
    MoveIntent,
    PingIntent,
    ProtocolError,
    StopIntent,
    decode_client_frame,
    decode_hello,
    decode_server_frame,
    encode_frame,
    error_frame_for,
)


def both(frame: dict[str, Any]) -> list[tuple[bytes | str, str]]:
    return [
        (orjson.dumps(frame).decode(), "json"),
        (orjson.dumps(frame), "json"),
        (ormsgpack.packb(frame), "msgpack"),
    ]


VALID = [
    ({"t": "move", "seq": 1, "x": 3.456, "y": 4, "ct": 10.5}, MoveIntent(1, 3.46, 4.0, 10.5, 0)),
    ({"t": "move", "seq": 2, "x": 1, "y": 2, "ct": 0, "cid": 3}, MoveIntent(2, 1.0, 2.0, 0.0, 3)),
    ({"t": "stop", "seq": 3}, StopIntent(3)),
    ({"t": "face", "seq": 4, "f": 7}, FaceIntent(4, 7)),
    ({"t": "chat", "seq": 5, "ch": "zone", "text": "héllo"}, ChatIntent(5, "zone", "héllo")),
    ({"t": "chat", "seq": 6, "text": "hi"}, ChatIntent(6, "say", "hi")),
    ({"t": "emote", "seq": 7, "emote": "wave"}, EmoteIntent(7, "wave")),
    ({"t": "ping", "seq": 8, "ct": 99}, PingIntent(8, 99.0)),
    ({"t": "ping", "seq": 9, "ct": 1, "echo": 2, "held": 3}, PingIntent(9, 1.0, 2.0, 3.0)),
    ({"t": "stop", "seq": 10, "extra": "ignored"}, StopIntent(10)),
]


@pytest.mark.parametrize(("frame", "expected"), VALID)
def test_valid_intents_decode_in_both_encodings(frame: dict[str, Any], expected: Any) -> None:
    for raw, encoding in both(frame):
        assert decode_client_frame(raw, encoding) == expected


def test_hello_decodes_and_negotiates() -> None:
    hello = decode_hello('{"t":"hello","v":1,"enc":"msgpack","ticket":"abc"}')

    assert hello == ClientHello(version=1, encoding="msgpack", ticket="abc")
    assert decode_hello(b'{"t":"hello","v":1,"ticket":"t"}').encoding == "json"


def rejected(raw: bytes | str, encoding: str = "json") -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode_client_frame(raw, encoding)
    return caught.value


INVALID = [
    ("frame_too_large", orjson.dumps({"t": "chat", "seq": 1, "text": "x" * 1100}), True),
    ("bad_frame", b"{not json", True),
    ("bad_frame", b"[1, 2, 3]", True),
    ("bad_frame", b'{"seq": 1}', True),
    ("bad_frame", b'{"t": 5}', True),
    ("bad_frame", b'{"t":"move","seq":1,"x":NaN,"y":1,"ct":1}', True),
    ("bad_frame", b"\xff\xfe", True),
    ("unknown_intent", b'{"t":"teleport","seq":1}', False),
    ("unknown_intent", b'{"t":"attack","seq":2,"target":5}', False),
    ("invalid_intent", b'{"t":"move","x":1,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":0,"x":1,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":true,"x":1,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":2147483648,"x":1,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1.5,"x":1,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":"1","y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":true,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":1e300,"y":1,"ct":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":1,"y":1}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":1,"y":1,"ct":-5}', False),
    ("invalid_intent", b'{"t":"move","seq":1,"x":1,"y":1,"ct":1,"cid":-1}', False),
    ("invalid_intent", b'{"t":"face","seq":1,"f":8}', False),
    ("invalid_intent", b'{"t":"chat","seq":1,"ch":"guild","text":"x"}', False),
    ("invalid_intent", b'{"t":"chat","seq":1,"ch":["say"],"text":"x"}', False),
    ("invalid_intent", b'{"t":"chat","seq":1,"ch":{"a":1},"text":"x"}', False),
    ("invalid_intent", b'{"t":"chat","seq":1,"text":"   "}', False),
    ("invalid_intent", b'{"t":"chat","seq":1,"text":"a\\u0000b"}', False),
    ("invalid_intent", orjson.dumps({"t": "chat", "seq": 1, "text": "é" * 257}), False),
    ("invalid_intent", b'{"t":"emote","seq":1,"emote":5}', False),
    ("invalid_intent", b'{"t":"ping","seq":1}', False),
    ("invalid_intent", b'{"t":"ping","seq":1,"ct":1,"echo":"x"}', False),
]


@pytest.mark.parametrize(("code", "raw", "fatal"), INVALID)
def test_bad_frames_raise_protocol_error_with_code(code: str, raw: bytes, fatal: bool) -> None:
    error = rejected(raw)

    assert error.code == code
    assert error.fatal is fatal


def test_errors_for_a_readable_seq_echo_it() -> None:
    error = rejected(b'{"t":"face","seq":9,"f":"up"}')

    frame = error_frame_for(error)
    assert frame == {"t": "error", "code": "invalid_intent", "msg": error.message, "seq": 9}
    assert "'f'" in error.message


def test_msgpack_specific_faults() -> None:
    assert rejected(b"\xc1", "msgpack").code == "bad_frame"  # never-used byte
    assert rejected("text", "msgpack").code == "bad_frame"
    nan = ormsgpack.packb({"t": "move", "seq": 1, "x": float("nan"), "y": 1.0, "ct": 1.0})
    assert rejected(nan, "msgpack").code == "invalid_intent"
    inf = ormsgpack.packb({"t": "ping", "seq": 1, "ct": float("inf")})
    assert rejected(inf, "msgpack").code == "invalid_intent"
    binary = ormsgpack.packb({"t": "chat", "seq": 1, "text": b"bytes"})
    assert rejected(binary, "msgpack").code == "invalid_intent"
    assert rejected(b"\x81\x01\x02", "msgpack").code == "bad_frame"  # integer map key


def test_hello_faults() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_hello('{"t":"hello","v":2,"ticket":"x"}')
    assert caught.value.code == "unsupported_version" and caught.value.fatal
    assert error_frame_for(caught.value)["supported"] == [1]

    with pytest.raises(ProtocolError) as caught:
        decode_hello('{"t":"hello","v":1,"enc":"xml","ticket":"x"}')
    assert caught.value.code == "unsupported_encoding"

    with pytest.raises(ProtocolError) as caught:
        decode_hello('{"t":"ping","seq":1,"ct":1}')
    assert caught.value.code == "hello_required"

    with pytest.raises(ProtocolError) as caught:
        decode_hello('{"t":"hello","v":1,"ticket":""}')
    assert caught.value.code == "bad_frame"

    with pytest.raises(ProtocolError) as caught:
        decode_client_frame('{"t":"hello","v":1,"ticket":"x"}', "yaml")
    assert caught.value.code == "unsupported_encoding"


def test_encode_frame_round_trips() -> None:
    frame = {"t": "error", "code": "x", "msg": "y"}

    for encoding in ("json", "msgpack"):
        assert decode_server_frame(encode_frame(frame, encoding), encoding) == frame
    with pytest.raises(ValueError, match="unknown encoding"):
        encode_frame(frame, "xml")


def test_flood_guard_allows_bursts_then_drops_then_disconnects() -> None:
    guard = FloodGuard(rate=10.0, burst=20.0, strike_limit=30.0, strike_decay=5.0)

    first = [guard.check(0.0) for _ in range(20)]
    assert set(first) == {FloodVerdict.ALLOW}
    assert guard.check(0.0) is FloodVerdict.DROP_AND_NOTIFY
    assert guard.check(0.0) is FloodVerdict.DROP  # at most one notice per second
    assert guard.check(0.5) is FloodVerdict.ALLOW  # 5 tokens came back
    verdicts = [guard.check(0.5) for _ in range(40)]
    assert verdicts[-1] is FloodVerdict.DISCONNECT


def test_flood_guard_never_disconnects_a_client_within_the_rate() -> None:
    guard = FloodGuard(rate=30.0, burst=60.0)

    verdicts = {guard.check(i / 25.0) for i in range(25 * 60)}

    assert verdicts == {FloodVerdict.ALLOW}


def test_flood_guard_try_take_then_check_gives_the_verdicts_check_alone_gives() -> None:
    """The gateway's fast path takes a token with ``try_take`` and, when there is none,
    leaves the frame to ``receive``, which calls ``check``: the verdicts must not change."""
    times = [i / 200.0 for i in range(400)]  # 200 frames/s: far over the rate
    alone = FloodGuard(rate=10.0, burst=20.0, strike_limit=30.0, strike_decay=5.0)
    fast = FloodGuard(rate=10.0, burst=20.0, strike_limit=30.0, strike_decay=5.0)

    expected = [alone.check(t) for t in times]
    seen = [FloodVerdict.ALLOW if fast.try_take(t) else fast.check(t) for t in times]

    assert seen == expected
    assert FloodVerdict.DISCONNECT in seen
