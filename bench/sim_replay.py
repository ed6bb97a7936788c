"""Replay a deterministic busy scenario through ``ShardSim`` and print every frame, normalised.

Used to check that an optimisation of the simulation core changes no frame content: run it
against the old code (``--root`` of a checkout of the old commit) and the new code and compare::

    .venv/bin/python bench/sim_replay.py --root /path/to/old/checkout > old.jsonl
    .venv/bin/python bench/sim_replay.py > new.jsonl
    cmp old.jsonl new.jsonl

The scenario: ``--players`` bots walking in a 160 x 160 open zone (a quarter of them bunched
so that the visibility cap binds), mixed JSON / msgpack clients, joins and leaves every few
ticks, long jumps (accepted after a pause, so the mover is re-paired) and refused jumps
(corrections), stops, turns, say / zone chat, emotes, pings, reconnects and detached clients.
Each output line is one client's frame of one tick, decoded, with every list sorted: lists are
compared as sets (the protocol promises no order inside ``upd``/``enter``/``leave``/...).
Only the public API of ``worlds.sim`` is used, so old and new code run the same scenario.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import ormsgpack

# This checkout's bench helpers; --root (put first on the path later) only picks worlds.sim.
sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))
from bench.plains import plains_rows, plains_zone

SIDE = 160  # the walkable area; the zone may be wider (rock beyond)


def _zone(zone_map_class: Any, tile_kind: Any, width: int) -> Any:
    rows = plains_rows(height=SIDE, walk_width=SIDE, width=width, first=5, spread=23, stride=29)
    return plains_zone(zone_map_class, tile_kind, zone_id="replay", name="Replay Plains", rows=rows)


def _normalise(raw: bytes, encoding: str) -> bytes:
    frame = orjson.loads(raw) if encoding == "json" else ormsgpack.unpackb(raw)
    frame.pop("_", None)  # msgpack row padding
    for key, value in frame.items():
        if isinstance(value, list):
            frame[key] = sorted(
                value, key=lambda item: orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
            )
    return orjson.dumps(frame, option=orjson.OPT_SORT_KEYS)


def replay(players: int, ticks: int, seed: int, width: int = SIDE) -> Iterator[bytes]:
    """Yield one normalised line per frame: ``tick conn_id frame``."""
    from worlds import sim
    from worlds.sim.zonemap import TileKind, ZoneMap

    zone = _zone(ZoneMap, TileKind, width)
    config = sim.SimConfig()
    shard = sim.ShardSim({zone.id: zone}, config)
    rng = np.random.default_rng(seed)
    walkable = np.frombuffer(zone.walkable_mask, np.uint8)

    def is_walkable(x: float, y: float) -> bool:
        return 0 <= x < SIDE and 0 <= y < SIDE and walkable[int(y) * width + int(x)] == 1

    def free_spot(near: tuple[float, float] | None = None) -> tuple[float, float]:
        while True:
            if near is None:
                x, y = rng.uniform(1, SIDE - 1, 2)
            else:
                x, y = near[0] + rng.uniform(-4, 4), near[1] + rng.uniform(-4, 4)
            x, y = round(float(x), 2), round(float(y), 2)
            if is_walkable(x, y):
                return x, y

    bots: dict[str, dict[str, Any]] = {}
    encodings: dict[str, str] = {}
    next_id = [0]

    def join(now: float) -> None:
        number = next_id[0]
        next_id[0] += 1
        conn = f"c{number}"
        x, y = free_spot((40.0, 40.0) if number % 4 == 0 else None)
        encoding = "msgpack" if number % 3 == 0 else "json"
        shard.add_player(
            conn,
            sim.PlayerState(
                character_id=number + 1,
                name=f"bot{number}",
                zone=zone.id,
                x=x,
                y=y,
                appearance={"hair": number % 5},
                level=1 + number % 30,
            ),
            encoding=encoding,
            now=now,
        )
        encodings[conn] = encoding
        bots[conn] = {
            "x": x,
            "y": y,
            "a": float(rng.uniform(0, 2 * math.pi)),
            "seq": 0,
            "cid": 0,
            "pause": 0,
            "last_ct": now * 1000.0,
        }

    step = config.max_speed / config.tick_hz * 0.95
    now = 0.0
    for _ in range(players):
        join(now)
    for tick in range(1, ticks + 1):
        now += 1.0 / config.tick_hz
        ct = now * 1000.0
        conns = list(bots)
        if tick % 3 == 0:  # leaves and joins
            for conn in rng.choice(conns, 3, replace=False).tolist():
                shard.remove_player(conn)
                del bots[conn]
            for _ in range(3):
                join(now)
            conns = list(bots)
        for conn in conns:
            bot = bots[conn]
            roll = float(rng.random())
            if bot["pause"] > 0:
                bot["pause"] -= 1
                if bot["pause"] == 0:  # a long accepted step after the pause: re-paired
                    x, y = bot["x"] + math.cos(bot["a"]) * 2.5, bot["y"] + math.sin(bot["a"]) * 2.5
                    x, y = round(x, 2), round(y, 2)
                    if is_walkable(x, y):
                        bot["seq"] += 1
                        shard.submit(conn, sim.MoveIntent(bot["seq"], x, y, ct, bot["cid"]))
                        bot["x"], bot["y"] = x, y
                        bot["last_ct"] = ct
                continue
            bot["seq"] += 1
            seq = bot["seq"]
            if roll < 0.01:
                shard.submit(conn, sim.StopIntent(seq))
                bot["pause"] = 12
            elif roll < 0.015:  # a refused jump: the server corrects
                x, y = free_spot()
                shard.submit(conn, sim.MoveIntent(seq, x, y, ct, bot["cid"]))
            elif roll < 0.02:
                shard.submit(conn, sim.ChatIntent(seq, "say", f"hi {seq}"))
            elif roll < 0.021:
                shard.submit(conn, sim.ChatIntent(seq, "zone", f"all {seq}"))
            elif roll < 0.026:
                shard.submit(conn, sim.EmoteIntent(seq, "wave"))
            elif roll < 0.03:
                shard.submit(conn, sim.FaceIntent(seq, int(rng.integers(0, 8))))
            elif roll < 0.033:
                shard.submit(conn, sim.PingIntent(seq, ct))
            else:
                if rng.random() < 0.03:
                    bot["a"] = float(rng.uniform(0, 2 * math.pi))
                x = round(bot["x"] + math.cos(bot["a"]) * step, 2)
                y = round(bot["y"] + math.sin(bot["a"]) * step, 2)
                if is_walkable(x, y) and is_walkable(x, bot["y"]) and is_walkable(bot["x"], y):
                    shard.submit(conn, sim.MoveIntent(seq, x, y, ct, bot["cid"]))
                    bot["x"], bot["y"] = x, y
                else:
                    bot["a"] += math.pi / 2 + float(rng.uniform(0, math.pi))
                    bot["seq"] -= 1
        if tick % 7 == 0:  # a reconnect (new connection id, everything enters again)
            conn = conns[tick % len(conns)]
            if conn in bots:
                new_conn = conn + "r"
                encoding = "json" if encodings[conn] == "msgpack" else "msgpack"
                shard.rebind(conn, new_conn, encoding=encoding)
                bots[new_conn] = bots.pop(conn)
                bots[new_conn]["seq"] = 0
                encodings[new_conn] = encoding
        if tick % 11 == 0:  # a dropped connection: the character stays, no frames
            conn = conns[(tick * 7) % len(conns)]
            if conn in bots:
                shard.detach(conn)
                bots[conn]["pause"] = 10**9  # silent from now on
        out = shard.tick(now)
        for conn_id in sorted(out.frames):
            frame = _normalise(out.frames[conn_id], encodings[conn_id])
            yield b"%d %s %s" % (tick, conn_id.encode(), frame)
            you = orjson.loads(frame).get("you")
            if you is not None:  # the client applies the correction
                bots[conn_id].update(x=you["x"], y=you["y"], cid=you["cor"])
        for report in out.suspects:
            yield b"%d suspect %s %s" % (tick, report.conn_id.encode(), report.action.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[1]
    )
    parser.add_argument("--players", type=int, default=600)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--width",
        type=int,
        default=SIDE,
        help="zone width (the walkable area stays 160 x 160): 1000+ gives 4-digit coordinates",
    )
    parser.add_argument("--digest", action="store_true", help="print one sha256 per tick instead")
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    if args.digest:
        current, digest = 0, hashlib.sha256()
        for line in replay(args.players, args.ticks, args.seed, args.width):
            tick = int(line.split(b" ", 1)[0])
            if tick != current:
                if current:
                    print(current, digest.hexdigest()[:16])
                current, digest = tick, hashlib.sha256()
            digest.update(line + b"\n")
        print(current, digest.hexdigest()[:16])
        return
    out = sys.stdout.buffer
    for line in replay(args.players, args.ticks, args.seed, args.width):
        out.write(line + b"\n")


if __name__ == "__main__":
    main()
