"""Gateway <-> shard batches survive the Redis wire format unchanged."""

from __future__ import annotations

import ormsgpack

from worlds.runtime.messages import (
    Attach,
    Control,
    Detach,
    Intent,
    Refresh,
    ShardBatch,
    decode_gateway_batch,
    decode_shard_batch,
    encode_gateway_batch,
    encode_shard_batch,
    gateway_of,
)


def test_gateway_batch_round_trips_every_message_kind() -> None:
    items = [
        Attach("gw-1/1", 7, 3, 2, "msgpack", None),
        Attach("gw-1/2", 8, 4, 1, "json", "hand-off-token"),
        Intent("gw-1/1", b'{"t":"ping","seq":1,"ct":1}'),
        Intent("gw-1/2", '{"t":"stop","seq":2}'),
        Refresh("gw-1/1", "equipment"),
        Detach("gw-1/2", "disconnect"),
    ]
    wire = ormsgpack.unpackb(ormsgpack.packb(encode_gateway_batch("gw-1", items)))
    assert decode_gateway_batch(wire) == ("gw-1", items)


def test_shard_batch_round_trips_frames_and_controls() -> None:
    batch = ShardBatch(
        "town-1",
        frames=[("gw-1/1", b'{"t":"tick"}'), ("gw-1/2", b"\x81\xa1t\xa4tick")],
        controls=[
            Control("close", "gw-1/1", 4002, b'{"t":"error"}'),
            Control("transfer", "gw-1/2", shard="field-1", character_id=8, transfer_token="x"),
        ],
    )
    wire = ormsgpack.unpackb(ormsgpack.packb(encode_shard_batch(batch)))
    assert decode_shard_batch(wire) == batch


def test_connection_ids_name_their_gateway() -> None:
    assert gateway_of("gw-host-12-abc/42") == "gw-host-12-abc"
