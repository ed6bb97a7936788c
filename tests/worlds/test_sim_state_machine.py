"""Stateful property test: random valid and invalid intents from several clients keep the
simulation's invariants after every tick."""

from __future__ import annotations

from typing import Any

import hypothesis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.worlds.test_sim_helpers import grid_zone, state
from worlds.sim import (
    ChatIntent,
    EmoteIntent,
    FaceIntent,
    MoveIntent,
    PingIntent,
    Portal,
    ShardSim,
    SimConfig,
    StopIntent,
    decode_server_frame,
)

WEST = grid_zone(
    [
        "####################",
        "#..................#",
        "#..##.....#........#",
        "#..##.....#.......::",
        "#.........#........#",
        "####################",
    ],
    "west",
    portals=(Portal("to_east", 18, 3, 2, 1, "east", "from_west"),),
    spawns={"default": (1.5, 1.5), "from_east": (16.5, 3.5)},
)
EAST = grid_zone(
    [
        "############",
        "#..........#",
        ":..#.......#",
        "#..#.......#",
        "############",
    ],
    "east",
    portals=(Portal("to_west", 0, 2, 1, 1, "west", "from_east"),),
    spawns={"default": (5.5, 1.5), "from_west": (1.5, 2.5)},
)
CLIENTS = ["c0", "c1", "c2", "c3"]
# c3 starts one step from the portal to the east zone, so random walks cross zones often.
STARTS = [(1.5, 1.5), (2.5, 1.5), (16.5, 1.5), (17.85, 3.5)]
ZONES = {"west": WEST, "east": EAST}


class SimMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.sim = ShardSim(ZONES, SimConfig(view_radius=6.0, aoi_cap=2))
        self.now = 0.0
        self.seq = dict.fromkeys(CLIENTS, 0)
        self.cid = dict.fromkeys(CLIENTS, 0)
        self.ct = dict.fromkeys(CLIENTS, 5000.0)
        self.last_out: Any = None
        for number, conn_id in enumerate(CLIENTS):
            self.sim.add_player(
                conn_id,
                state(number + 1, "west", *STARTS[number]),
                encoding=("json", "msgpack")[number % 2],
                now=0.0,
            )

    def _next_seq(self, conn_id: str) -> int:
        self.seq[conn_id] += 1
        return self.seq[conn_id]

    @rule(
        conn_id=st.sampled_from(CLIENTS),
        dx=st.floats(-0.35, 0.35),
        dy=st.floats(-0.35, 0.35),
        clock_step=st.sampled_from([0.0, 50.0, 50.0, 50.0, -30.0, 3000.0]),
    )
    def step(self, conn_id: str, dx: float, dy: float, clock_step: float) -> None:
        here = self.sim.snapshot_player(conn_id)
        self.ct[conn_id] += clock_step
        intent = MoveIntent(
            self._next_seq(conn_id),
            round(here.x + dx, 2),
            round(here.y + dy, 2),
            max(self.ct[conn_id], 0.0),
            self.cid[conn_id],
        )
        self.sim.submit(conn_id, intent)

    @rule(
        conn_id=st.sampled_from(CLIENTS),
        x=st.floats(-5, 25),
        y=st.floats(-5, 10),
        stale_cid=st.booleans(),
    )
    def wild_move(self, conn_id: str, x: float, y: float, stale_cid: bool) -> None:
        self.ct[conn_id] += 50.0
        cid = self.cid[conn_id] - 1 if stale_cid else self.cid[conn_id]
        intent = MoveIntent(
            self._next_seq(conn_id), round(x, 2), round(y, 2), self.ct[conn_id], max(cid, 0)
        )
        self.sim.submit(conn_id, intent)

    @rule(conn_id=st.sampled_from(CLIENTS), back=st.integers(0, 3))
    def replayed_seq(self, conn_id: str, back: int) -> None:
        assert not self.sim.submit(conn_id, StopIntent(self.seq[conn_id] - back))

    @rule(
        conn_id=st.sampled_from(CLIENTS),
        kind=st.sampled_from(["chat", "zone_chat", "emote", "bad_emote", "face", "ping", "stop"]),
    )
    def other_intent(self, conn_id: str, kind: str) -> None:
        seq = self._next_seq(conn_id)
        intent: Any = {
            "chat": ChatIntent(seq, "say", "hi"),
            "zone_chat": ChatIntent(seq, "zone", "all"),
            "emote": EmoteIntent(seq, "wave"),
            "bad_emote": EmoteIntent(seq, "nope"),
            "face": FaceIntent(seq, seq % 8),
            "ping": PingIntent(seq, self.ct[conn_id]),
            "stop": StopIntent(seq),
        }[kind]
        self.sim.submit(conn_id, intent)

    @rule(ticks=st.integers(1, 3))
    def tick(self, ticks: int) -> None:
        for _ in range(ticks):
            self.now += 0.05
            out = self.sim.tick(self.now)
            self.last_out = out
            conn_ids = list(out.frames)
            assert len(conn_ids) == len(set(conn_ids)) == len(out.frames)
            for conn_id in conn_ids:
                encoding = "json" if conn_id in ("c0", "c2") else "msgpack"
                frame = decode_server_frame(out.frames[conn_id], encoding)
                assert frame["t"] == "tick" and frame["tick"] == out.tick
                assert frame["ack"] <= self.seq[conn_id]
                you = frame.get("you")
                if you is not None:
                    self.cid[conn_id] = you["cor"]
                for event in frame.get("ev", []):
                    if event["e"] == "zone":
                        self.cid[conn_id] = event["cor"]
                        hypothesis.event("zone change")
            assert out.transfers == []

    @invariant()
    def everyone_stands_on_walkable_ground(self) -> None:
        for conn_id in CLIENTS:
            player = self.sim.snapshot_player(conn_id)
            zone = ZONES[player.zone]
            assert zone.in_bounds(player.x, player.y)
            assert zone.is_walkable(player.x, player.y)

    @invariant()
    def every_entity_is_in_exactly_one_zone(self) -> None:
        seen: list[int] = []
        for zone in self.sim.zones.values():
            assert set(zone.players) == set(zone.alive.nonzero()[0].tolist())
            seen.extend(player.entity_id for player in zone.players.values())
        assert sorted(seen) == [1, 2, 3, 4]

    @invariant()
    def visibility_respects_radius_cap_and_zone(self) -> None:
        for conn_id in CLIENTS:
            me = self.sim.snapshot_player(conn_id)
            visible = self.sim.visible_entity_ids(conn_id)
            assert len(visible) <= 2
            for other_id in visible:
                other = self.sim.snapshot_player(CLIENTS[other_id - 1])
                assert other.zone == me.zone
                assert (other.x - me.x) ** 2 + (other.y - me.y) ** 2 <= 8.0**2 + 1e-6


TestSimMachine = SimMachine.TestCase
TestSimMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
