"""The bot client's scripted behaviours (mmo_client.behaviours) without a server: every move is
judged by the simulation's own validator (worlds.sim.movement), on a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from typing import Any

import numpy as np
import pytest

from mmo_client import Walker, WorldClient, follow, walker_for, wander
from mmo_client.behaviours import MAX_STEP_TILES, PING_EVERY_SECONDS
from worlds.sim.config import SimConfig
from worlds.sim.movement import OK, REASON_NAMES, MoveClock, validate_moves

# A wall at (4, 1), water at (3..4, 3), a portal at (0, 5).
TILES = [
    "..........",
    "....#.....",
    "..........",
    "...~~.....",
    "..........",
    ":.........",
]
LEGEND = {
    ".": {"kind": "grass", "walkable": True},
    "#": {"kind": "wall", "walkable": False},
    "~": {"kind": "water", "walkable": False},
    ":": {"kind": "portal", "walkable": True},
}
PORTALS = [{"id": "out", "x": 0, "y": 5, "w": 1, "h": 1, "to": "elsewhere"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def welcome(
    x: float, y: float, *, with_map: bool = True, max_speed: float | None = 6.0
) -> dict[str, Any]:
    zone: dict[str, Any] = {"id": "test", "w": 10, "h": 6}
    if with_map:
        zone.update(tiles=TILES, legend=LEGEND, portals=PORTALS)
    return {
        "t": "welcome",
        "you": {"id": 1, "x": x, "y": y, "f": 4, "cor": 0},
        "zone": zone,
        "limits": {} if max_speed is None else {"max_speed": max_speed},
    }


class FakeServer:
    """Stands in for the shard: judges each move with ``validate_moves`` and answers a refused
    one with a correction frame; drops moves tagged with an old correction id."""

    def __init__(self, client: WorldClient, clock: FakeClock, x: float, y: float) -> None:
        self.client, self.clock = client, clock
        self.config = SimConfig()
        self.walkable = np.array(
            [LEGEND[char]["walkable"] for row in TILES for char in row], np.uint8
        )
        self.x, self.y, self.cid = x, y, 0
        self.move_clock = MoveClock(
            last_ct=np.array([np.nan]),
            last_now=np.array([clock()]),
            anchor_ct=np.array([np.nan]),
            anchor_now=np.array([0.0]),
        )
        self.sent: list[dict[str, Any]] = []
        self.accepted: list[tuple[float, float]] = []
        self.refusals: list[str] = []
        client.send = self.send  # type: ignore[method-assign]

    async def send(self, kind: str, **fields: Any) -> int:
        self.sent.append({"t": kind, **fields})
        if kind == "move" and fields["cid"] == self.cid:
            self.judge(fields)
        return len(self.sent)

    def judge(self, move: dict[str, Any]) -> None:
        verdict = validate_moves(
            config=self.config,
            walkable=self.walkable,
            width=len(TILES[0]),
            height=len(TILES),
            now=self.clock(),
            from_x=np.array([self.x]),
            from_y=np.array([self.y]),
            to_x=np.array([move["x"]]),
            to_y=np.array([move["y"]]),
            client_ms=np.array([move["ct"]]),
            clock=self.move_clock,
            slots=np.array([0]),
        )
        reason = int(verdict.reason[0])
        if reason == OK:
            self.x, self.y = move["x"], move["y"]
            self.accepted.append((self.x, self.y))
            return
        self.refusals.append(REASON_NAMES[reason])
        self.cid += 1
        correction = {"cor": self.cid, "x": self.x, "y": self.y, "f": 0}
        self.client._on_frame({"t": "tick", "tick": 1, "ack": 0, "you": correction})


def connected(frame: dict[str, Any], *, track_entities: bool = False) -> WorldClient:
    client = WorldClient("ws://127.0.0.1:9/ws/world/", "ticket", track_entities=track_entities)
    client._on_frame(frame)
    return client


def setup(
    x: float, y: float, *, with_map: bool = True, track_entities: bool = False
) -> tuple[Walker, FakeServer, FakeClock]:
    clock = FakeClock()
    client = connected(welcome(x, y, with_map=with_map), track_entities=track_entities)
    server = FakeServer(client, clock, x, y)
    walker = Walker(client, clock=clock, sleep=clock.sleep)
    return walker, server, clock


def moves(server: FakeServer) -> list[dict[str, Any]]:
    return [frame for frame in server.sent if frame["t"] == "move"]


def test_the_speed_limit_comes_from_the_welcome_else_the_fallback() -> None:
    assert Walker(connected(welcome(2.5, 2.5, max_speed=5.0))).max_speed == 5.0
    client = connected(welcome(2.5, 2.5, max_speed=None))
    assert Walker(client, fallback_max_speed=3.5).max_speed == 3.5


def test_a_step_covers_at_most_the_speed_times_the_time_since_the_previous_move() -> None:
    walker, _, clock = setup(0.5, 0.5)

    def step_length(after: float, **options: Any) -> float:
        clock.now += after
        target = walker.plan_step(9.5, 0.5, **options)
        assert target is not None
        return target[0] - walker.x

    assert step_length(0.1) == pytest.approx(0.6)
    assert step_length(0.05) == pytest.approx(0.9)  # 0.15 s since the walker started
    assert step_length(0.0, speed=2.0) == pytest.approx(0.3)
    assert step_length(0.0, speed=60.0) == pytest.approx(0.9)  # never above the limit
    assert step_length(5.0) == pytest.approx(MAX_STEP_TILES)  # a long pause: still less than a tile


def test_steps_sent_in_a_row_are_all_accepted_and_tagged_with_the_correction_id() -> None:
    walker, server, _ = setup(0.5, 0.5)

    async def walk() -> None:
        for _ in range(10):
            await walker.step_toward(9.5, 0.5)

    asyncio.run(walk())
    assert server.refusals == []
    assert [move["cid"] for move in moves(server)] == [0] * 10
    assert walker.x == server.x == pytest.approx(6.5)
    cts = [move["ct"] for move in moves(server)]
    assert all(later - earlier >= 99.9 for earlier, later in itertools.pairwise(cts))


def test_the_tile_rule_is_applied_before_sending() -> None:
    walker, _, _ = setup(3.9, 1.1)
    assert not walker.can_step(4.1, 1.1)  # the wall
    assert not walker.can_step(4.1, 0.9)  # diagonal past the wall's corner
    assert walker.can_step(3.9, 0.9)
    walker.x, walker.y = 0.5, 4.9
    assert not walker.can_step(0.5, 5.1)  # the portal
    assert not walker.can_step(-0.1, 4.9)  # out of the map


def test_a_blocked_straight_line_slides_along_the_free_axis() -> None:
    walker, _, clock = setup(3.5, 2.5)
    clock.now += 0.1
    # Straight toward (4.5, 4.5) crosses the water at row 3: slide east instead.
    assert walker.plan_step(4.5, 4.5) == (4.1, 2.5)


def test_a_correction_snaps_back_and_the_refused_tile_is_not_stepped_on_again() -> None:
    # No map in the welcome: the walker learns the wall at (4, 1) from the correction.
    walker, server, _ = setup(2.5, 1.5, with_map=False)

    async def walk() -> None:
        for _ in range(4):
            await walker.step_toward(4.5, 1.5)
        await walker.step_toward(3.7, 2.5)

    asyncio.run(walk())
    assert server.refusals == ["wall"]
    assert walker.corrections == 1
    assert walker.cid == server.cid == 1
    assert (4, 1) in walker.avoided
    assert (walker.x, walker.y) == (server.x, server.y)
    # After the refusal: nothing more toward the wall, then a move with the new cid, accepted.
    assert [(move["x"], move["cid"]) for move in moves(server)][2:] == [(4.3, 0), (3.7, 1)]
    assert len(server.accepted) == 3


def test_a_repeated_correction_id_is_not_a_correction() -> None:
    walker, _, _ = setup(2.5, 2.5)
    walker.x = 3.0  # walked since the welcome
    walker({"t": "tick", "tick": 1, "ack": 0, "you": {"cor": 0, "x": 2.5, "y": 2.5, "f": 0}})
    assert (walker.corrections, walker.x) == (0, 3.0)


def test_a_zone_change_brings_the_new_map_position_and_correction_id() -> None:
    walker, _, _ = setup(2.5, 2.5, with_map=False)
    walker.avoided.add((1, 1))
    zone = {"id": "other", "w": 2, "h": 1, "tiles": ["#."], "legend": LEGEND, "portals": []}
    event = {"e": "zone", "zone": zone, "id": 1, "x": 1.5, "y": 0.5, "f": 0, "cor": 4}
    walker({"t": "tick", "tick": 9, "ack": 0, "ev": [event]})
    assert (walker.zone_id, walker.x, walker.y, walker.cid) == ("other", 1.5, 0.5, 4)
    assert walker.map is not None and not walker.map.is_walkable(0, 0)
    assert walker.avoided == set()
    assert walker.corrections == 0


def test_wander_stays_near_home_and_is_never_refused() -> None:
    walker, server, _ = setup(2.5, 2.5)

    asyncio.run(wander(walker.client, seconds=30.0, rng=random.Random(3), radius=3.0))
    assert server.refusals == []
    assert walker.distance_walked > 20.0
    assert len({(round(x), round(y)) for x, y in server.accepted}) > 10  # it went places
    # Straight lines between points of the circle, or slides along an axis: inside its square.
    assert all(abs(x - 2.5) <= 3.01 and abs(y - 2.5) <= 3.01 for x, y in server.accepted)
    assert server.sent[-1]["t"] == "stop"


def test_follow_walks_up_to_the_target_and_stands_while_it_is_near_or_unseen() -> None:
    walker, server, _ = setup(0.5, 0.5, track_entities=True)
    client = walker.client
    client.entities[7] = {"id": 7, "x": 8.5, "y": 4.5}

    asyncio.run(follow(client, 7, distance=1.5, seconds=5.0))
    assert server.refusals == []
    assert math.hypot(8.5 - walker.x, 4.5 - walker.y) <= 1.5
    assert [frame["t"] for frame in server.sent][-1] == "stop"
    assert walker_for(client) is walker

    del client.entities[7]
    sent = len(server.sent)
    asyncio.run(follow(client, 7, seconds=3 * PING_EVERY_SECONDS))
    standing = server.sent[sent:]
    assert {frame["t"] for frame in standing} == {"ping"}  # no moves, but never silent
    assert len(standing) >= 2
    gaps = [later["ct"] - earlier["ct"] for earlier, later in itertools.pairwise(standing)]
    assert all(gap == pytest.approx(PING_EVERY_SECONDS * 1000, abs=150) for gap in gaps)


def test_follow_needs_tracked_entities() -> None:
    client = connected(welcome(2.5, 2.5))
    with pytest.raises(ValueError, match="track_entities"):
        asyncio.run(follow(client, 7, seconds=1.0))
