"""Simulation core benchmark: cost of one tick with N players all moving, frames included.

Every entity is a connected player whose bot sends one ``MoveIntent`` per tick (walking at full
speed, turning now and then, bouncing off obstacles), so every tick each client gets a frame with
the positions of the players it sees. Measured per tick:

* ``intake``: building the N ``MoveIntent`` objects and ``ShardSim.submit`` for each (in
  production the decode half of this runs in the gateway processes);
* ``tick``: ``ShardSim.tick`` = validating all moves, updating the area of interest, and
  building the *encoded* frame bytes for every client (JSON, or msgpack with --encoding).

Not included: WebSocket I/O, the channel layer, decoding client frames, and the bots' own logic.

    .venv/bin/python bench/sim_tick.py                       # 1,000 / 5,000 / 20,000 players
    .venv/bin/python bench/sim_tick.py --players 5000 --zone field --ticks 100
    .venv/bin/python bench/sim_tick.py --players 500 1000 --zone crowd   # all within 11 tiles
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plains import plains_rows, plains_zone  # noqa: E402
from bench.speed_probe import speed_probe_ms  # noqa: E402
from worlds.sim import (  # noqa: E402 - after the path set-up, so the script runs from anywhere
    MoveIntent,
    PlayerState,
    ShardSim,
    SimConfig,
    ZoneMap,
    load_zone_dir,
)
from worlds.sim.zonemap import TileKind  # noqa: E402


def open_zone(side: int) -> ZoneMap:
    """A big grass zone with a wall border and a few scattered rocks (obstacles to bounce on)."""
    rows = plains_rows(height=side, walk_width=side, width=side, first=7, spread=31, stride=41)
    zone: ZoneMap = plains_zone(ZoneMap, TileKind, zone_id="bench", name="Bench Plains", rows=rows)
    return zone


class Bots:
    """N clients that walk at full speed and send one move per tick (client-side, not timed)."""

    def __init__(
        self, zone: ZoneMap, count: int, seed: int, step: float, spread: float | None = None
    ) -> None:
        """``spread``: keep every bot within this many tiles of the zone's centre (a crowd)."""
        self.zone = zone
        self.rng = np.random.default_rng(seed)
        self.step = step
        self.spread = spread
        self.centre = (zone.width / 2, zone.height / 2)
        self.walkable = np.frombuffer(zone.walkable_mask, np.uint8).copy()
        for portal in zone.portals:  # bots stay in the zone: portals count as blocked
            for row in range(portal.y, portal.y + portal.height):
                start = row * zone.width + portal.x
                self.walkable[start : start + portal.width] = 0
        self.x = np.empty(count)
        self.y = np.empty(count)
        placed = 0
        while placed < count:
            if spread is None:
                x = self.rng.uniform(1, zone.width - 1, count)
                y = self.rng.uniform(1, zone.height - 1, count)
            else:
                angle = self.rng.uniform(0, 2 * math.pi, count)
                radius = spread * np.sqrt(self.rng.uniform(0, 1, count))
                # Rounded before the walkability check: x.995 can round onto a rock.
                x = np.round(self.centre[0] + radius * np.cos(angle), 2)
                y = np.round(self.centre[1] + radius * np.sin(angle), 2)
            ok = self._walkable(x, y)
            take = min(int(ok.sum()), count - placed)
            self.x[placed : placed + take] = np.round(x[ok][:take], 2)
            self.y[placed : placed + take] = np.round(y[ok][:take], 2)
            placed += take
        self.angle = self.rng.uniform(0, 2 * math.pi, count)
        self.seq = 0

    def _walkable(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = (x >= 0) & (x < self.zone.width) & (y >= 0) & (y < self.zone.height)
        tiles = np.clip(y.astype(np.int64), 0, self.zone.height - 1) * self.zone.width + np.clip(
            x.astype(np.int64), 0, self.zone.width - 1
        )
        return inside & (self.walkable[tiles] == 1)

    def advance(self) -> tuple[list[float], list[float]]:
        turn = self.rng.random(len(self.x)) < 0.02
        self.angle[turn] = self.rng.uniform(0, 2 * math.pi, int(turn.sum()))
        if self.spread is not None:  # the crowd stays together: head back when too far out
            cx, cy = self.centre
            out = np.hypot(self.x - cx, self.y - cy) > self.spread
            back = np.arctan2(cy - self.y[out], cx - self.x[out])
            self.angle[out] = back + self.rng.uniform(-0.5, 0.5, int(out.sum()))
        nx = np.round(self.x + np.cos(self.angle) * self.step, 2)
        ny = np.round(self.y + np.sin(self.angle) * self.step, 2)
        # The server's tile rule: target tile walkable, and for a diagonal step into the next
        # tile both tiles beside the corner walkable.
        ok = self._walkable(nx, ny) & self._walkable(nx, self.y) & self._walkable(self.x, ny)
        self.angle[~ok] += math.pi / 2 + self.rng.uniform(0, math.pi, int((~ok).sum()))
        self.x = np.where(ok, nx, self.x)
        self.y = np.where(ok, ny, self.y)
        self.seq += 1
        return self.x.tolist(), self.y.tolist()


def run(
    players: int,
    zone_name: str,
    ticks: int,
    warmup: int,
    encoding: str,
    time_limit: float,
    spread: float = 11.0,
) -> dict[str, float]:
    config = SimConfig()
    if zone_name == "field":
        zone_maps = load_zone_dir(ROOT / "content" / "zones")
        zone = zone_maps["field"]
    else:
        zone = open_zone(1024)
        zone_maps = {zone.id: zone}
    sim = ShardSim(zone_maps, config, owned_zones={zone.id})
    step = config.max_speed / config.tick_hz * 0.98
    bots = Bots(zone, players, seed=7, step=step, spread=spread if zone_name == "crowd" else None)
    conn_ids = [f"c{i}" for i in range(players)]
    for i, conn_id in enumerate(conn_ids):
        client_encoding = encoding if encoding != "mixed" else ("json", "msgpack")[i % 2]
        sim.add_player(
            conn_id,
            PlayerState(
                character_id=i + 1,
                name=f"bot{i}",
                zone=zone.id,
                x=float(bots.x[i]),
                y=float(bots.y[i]),
            ),
            encoding=client_encoding,
            now=0.0,
        )
    dt = config.tick_seconds
    now = 0.0
    intake_ms: list[float] = []
    tick_ms: list[float] = []
    tick_cpu_ms: list[float] = []
    intake_cpu_ms: list[float] = []
    frame_counts: list[int] = []
    frame_bytes: list[int] = []
    started = time.perf_counter()
    for tick in range(warmup + ticks):
        if time.perf_counter() - started > time_limit:
            break
        now += dt
        xs, ys = bots.advance()
        client_ms = now * 1000.0
        seq = bots.seq
        submit = sim.submit
        c0, t0 = time.process_time(), time.perf_counter()
        for conn_id, x, y in zip(conn_ids, xs, ys, strict=True):
            submit(conn_id, MoveIntent(seq, x, y, client_ms))
        c1, t1 = time.process_time(), time.perf_counter()
        out = sim.tick(now)
        c2, t2 = time.process_time(), time.perf_counter()
        if tick >= warmup:
            intake_ms.append((t1 - t0) * 1000)
            tick_ms.append((t2 - t1) * 1000)
            intake_cpu_ms.append((c1 - c0) * 1000)
            tick_cpu_ms.append((c2 - c1) * 1000)
            frame_counts.append(len(out.frames))
            frame_bytes.append(out.frames.total_bytes())
    total = [a + b for a, b in zip(intake_ms, tick_ms, strict=True)]
    present = [c for c in conn_ids[:500] if sim.has_player(c)]
    visible = np.mean([len(sim.visible_entity_ids(c)) for c in present])
    return {
        "players": players,
        "ticks": len(tick_ms),
        "tick_mean": statistics.fmean(tick_ms),
        "tick_p50": _percentile(tick_ms, 50),
        "tick_p99": _percentile(tick_ms, 99),
        "tick_cpu": statistics.fmean(tick_cpu_ms),
        "intake_mean": statistics.fmean(intake_ms),
        "intake_cpu": statistics.fmean(intake_cpu_ms),
        "total_mean": statistics.fmean(total),
        "total_p99": _percentile(total, 99),
        "frames": statistics.fmean(frame_counts),
        "kbytes": statistics.fmean(frame_bytes) / 1024,
        "visible": float(visible),
        "corrections": sum(sum(sim.cheat_counters(c)["violations"].values()) for c in conn_ids),
    }


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(percent / 100 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, nargs="*", default=[1000, 5000, 20000])
    parser.add_argument(
        "--zone",
        choices=["open", "field", "crowd"],
        default="open",
        help="open: generated 1024x1024 plain; field: the 128x128 content zone; crowd: the "
        "open plain with every player within --spread tiles of its centre",
    )
    parser.add_argument(
        "--spread", type=float, default=11.0, help="crowd radius in tiles (--zone crowd)"
    )
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--encoding", choices=["json", "msgpack", "mixed"], default="json")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=120.0,
        help="stop measuring a size after this many seconds",
    )
    args = parser.parse_args()
    spread = f" spread={args.spread:g}" if args.zone == "crowd" else ""
    print(
        f"zone={args.zone}{spread} encoding={args.encoding} python={sys.version.split()[0]} "
        f"numpy={np.__version__}"
    )
    header = (
        f"{'players':>8} {'ticks':>5} {'tick mean':>9} {'p50':>7} {'p99':>7} "
        f"{'cpu':>6} {'intake':>7} {'in cpu':>6} {'total':>7} {'tot p99':>7} {'frames':>7} "
        f"{'KiB/tick':>8} {'seen':>5}"
    )
    print(header)
    for players in args.players:
        r = run(
            players,
            args.zone,
            args.ticks,
            args.warmup,
            args.encoding,
            args.time_limit,
            args.spread,
        )
        print(
            f"{r['players']:>8} {r['ticks']:>5} {r['tick_mean']:>9.2f} {r['tick_p50']:>7.2f} "
            f"{r['tick_p99']:>7.2f} {r['tick_cpu']:>6.2f} {r['intake_mean']:>7.2f} "
            f"{r['intake_cpu']:>6.2f} {r['total_mean']:>7.2f} "
            f"{r['total_p99']:>7.2f} {r['frames']:>7.0f} {r['kbytes']:>8.1f} "
            f"{r['visible']:>5.1f}"
            + (f"  corrections={r['corrections']}" if r["corrections"] else "")
        )
    print(
        "times in ms per tick; cpu = process CPU time (time.process_time) of the tick / intake; "
        "seen = mean entities visible per client"
    )
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"speed probe (bench/speed_probe.py; lower = faster machine): {speed_probe_ms()} ms")


if __name__ == "__main__":
    main()
