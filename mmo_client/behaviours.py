"""Scripted play for bots and tests: ``wander`` and ``follow``, walking without being corrected.

``Walker`` owns a ``WorldClient``'s own entity: its position (from the welcome ``you``, snapped
to every correction), its correction id ``cid``, and the zone's tiles. It sends ``move`` steps
at a fixed period (default 100 ms) that the server accepts (docs/protocol.md, 4): never faster
than ``limits.max_speed`` of the welcome (else ``fallback_max_speed``) over the client time since
the previous move, shorter than a tile, onto walkable tiles by the exact tile rule (diagonal
corners included), never into a portal. Where the welcome has no map it learns instead: the
tile of a corrected step is not stepped on again.

Preconditions: the client is connected and decodes every frame (``decode_every=1``, or a missed
correction would leave every later move dropped); ``follow`` needs ``track_entities=True``.
A client has one walker (``walker_for``), shared by the behaviours run on it one after another.
Behaviours end when ``seconds`` have passed or ``until`` is set (then they send ``stop``), or
when cancelled; a closed connection raises ``WorldClosed``. While standing they ping every 4 s,
so the gateway's 15 s idle timeout never fires.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mmo_client.world import WorldClient

# A step shorter than a tile is judged by the exact tile rule, which the walker applies itself;
# the server only samples longer ones.
MAX_STEP_TILES = 0.9
MAX_ELAPSED_SECONDS = 1.0  # the server counts at most 1 s of client time for one move
PING_EVERY_SECONDS = 4.0

Tile = tuple[int, int]


def tile_of(x: float, y: float) -> Tile:
    return math.floor(x), math.floor(y)


@dataclass(frozen=True)
class TileMap:
    """A zone's walkability, read from ``welcome.zone`` or a ``zone`` event (rows kept as sent)."""

    zone_id: str
    width: int
    height: int
    rows: tuple[str, ...]
    walkable_chars: frozenset[str]
    portals: tuple[tuple[float, float, float, float], ...]  # x, y, w, h

    @classmethod
    def from_zone(cls, zone: dict[str, Any]) -> TileMap | None:
        if "tiles" not in zone or "legend" not in zone:
            return None
        rows = tuple(zone["tiles"])
        return cls(
            zone_id=str(zone.get("id", "")),
            width=int(zone.get("w", max((len(row) for row in rows), default=0))),
            height=int(zone.get("h", len(rows))),
            rows=rows,
            walkable_chars=frozenset(
                char for char, tile in zone["legend"].items() if tile.get("walkable")
            ),
            portals=tuple(
                (float(p["x"]), float(p["y"]), float(p["w"]), float(p["h"]))
                for p in zone.get("portals", ())
            ),
        )

    def is_walkable(self, column: int, row: int) -> bool:
        if not (0 <= column < self.width and 0 <= row < self.height):
            return False
        line = self.rows[row]
        return column < len(line) and line[column] in self.walkable_chars

    def in_portal(self, x: float, y: float) -> bool:
        return any(px <= x < px + w and py <= y < py + h for px, py, w, h in self.portals)


class Walker:
    """Moves one client's entity (see the module docstring); a frame listener of the client.
    ``clock`` (seconds, also the moves' ``ct``) and ``sleep`` are injectable for tests."""

    def __init__(
        self,
        client: WorldClient,
        *,
        fallback_max_speed: float = 4.0,
        period: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if client.welcome is None:
            raise ValueError("connect the client before walking")
        if client.decode_every != 1:
            raise ValueError("a walker must see every frame (decode_every=1)")
        self.client, self.period, self.clock, self.sleep = client, period, clock, sleep
        limits = client.welcome.get("limits") or {}
        self.max_speed = float(limits.get("max_speed", fallback_max_speed))
        self.x = self.y = 0.0
        self.cid = 0
        self.zone_id = ""
        self.map: TileMap | None = None
        self.avoided: set[Tile] = set()  # tiles of corrected steps, learned without a map
        self.walking = False
        self.corrections = self.moves_sent = 0
        self.distance_walked = 0.0
        self._last_step: tuple[float, float] | None = None
        self._last_move_at = self._last_sent_at = clock()
        self._next_slot = self._last_sent_at + period
        self._arrive(client.welcome["you"], client.welcome.get("zone"))
        client.frame_listeners.append(self)

    # --- what the server says ----------------------------------------------------------------

    def __call__(self, frame: dict[str, Any]) -> None:
        if frame.get("t") == "welcome":  # handed over to another shard: a new zone and cid
            self._arrive(frame["you"], frame.get("zone"))
            return
        for event in frame.get("ev", ()) or ():
            if isinstance(event, dict) and event.get("e") == "zone":
                self._arrive(event, event.get("zone"))
        you = frame.get("you")
        # The first tick after a welcome may repeat its ``cor``: moves sent since then stand.
        if isinstance(you, dict) and "cor" in you and int(you["cor"]) != self.cid:
            self.corrections += 1
            # Without a map the refused step's tile is the likeliest culprit; with one, the
            # tile rule was kept, so the refusal says nothing about the tile.
            step = self._last_step
            standing = tile_of(float(you["x"]), float(you["y"]))
            if self.map is None and step is not None and tile_of(*step) != standing:
                self.avoided.add(tile_of(*step))
            self._arrive(you, None)

    def _arrive(self, you: dict[str, Any], zone: dict[str, Any] | None) -> None:
        self.x, self.y = float(you["x"]), float(you["y"])
        self.cid = int(you.get("cor", self.cid))
        if zone is not None:
            self.zone_id = str(zone.get("id", ""))
            self.map = TileMap.from_zone(zone)
            self.avoided.clear()
        self._last_step = None
        # The server restarts its move clock at the correction or zone entry, before we hear of
        # it: counting from now under-estimates the time allowed, never over-estimates it.
        self._last_move_at = self.clock()

    # --- planning (pure) ---------------------------------------------------------------------

    def can_step(self, to_x: float, to_y: float) -> bool:
        """The tile rule of docs/protocol.md 4 for a step shorter than a tile, from here."""
        column, row = tile_of(to_x, to_y)
        if (column, row) in self.avoided:
            return False
        tile_map = self.map
        if tile_map is None:
            return True
        if not tile_map.is_walkable(column, row) or tile_map.in_portal(to_x, to_y):
            return False
        from_column, from_row = tile_of(self.x, self.y)
        if column != from_column and row != from_row:
            return tile_map.is_walkable(column, from_row) and tile_map.is_walkable(from_column, row)
        return True

    def plan_step(
        self, goal_x: float, goal_y: float, *, stop_within: float = 0.0, speed: float | None = None
    ) -> tuple[float, float] | None:
        """Where to step now toward the goal (straight, else sliding along one axis), or None
        when there or blocked. Never farther than the speed allows since the previous move."""
        dx, dy = goal_x - self.x, goal_y - self.y
        distance = math.hypot(dx, dy)
        pace = min(speed or self.max_speed, self.max_speed)
        elapsed = min(self.clock() - self._last_move_at, MAX_ELAPSED_SECONDS)
        length = min(pace * elapsed, MAX_STEP_TILES, distance - stop_within)
        if length < 0.01:
            return None
        along_x = (math.copysign(min(length, abs(dx)), dx), 0.0)
        along_y = (0.0, math.copysign(min(length, abs(dy)), dy))
        slides = [along_x, along_y] if abs(dx) >= abs(dy) else [along_y, along_x]
        for step_x, step_y in [(dx / distance * length, dy / distance * length), *slides]:
            to_x, to_y = round(self.x + step_x, 2), round(self.y + step_y, 2)
            if (to_x, to_y) != (self.x, self.y) and self.can_step(to_x, to_y):
                return to_x, to_y
        return None

    # --- acting ------------------------------------------------------------------------------

    async def step_toward(
        self, goal_x: float, goal_y: float, *, stop_within: float = 0.0, speed: float | None = None
    ) -> bool:
        """Wait for the next period, then send one step toward the goal; False if none was
        possible (arrived or blocked)."""
        await self.wait_period()
        target = self.plan_step(goal_x, goal_y, stop_within=stop_within, speed=speed)
        if target is None:
            return False
        now = self.clock()
        # State first: a correction read while the send yields must not be overwritten.
        self.distance_walked += math.hypot(target[0] - self.x, target[1] - self.y)
        self.x, self.y = self._last_step = target
        self._last_move_at = self._last_sent_at = now
        self.moves_sent += 1
        self.walking = True
        await self.client.send("move", x=target[0], y=target[1], ct=_ms(now), cid=self.cid)
        return True

    async def stop(self) -> None:
        """Tell viewers we stand (once per walk)."""
        if self.walking:
            self.walking = False
            self._last_sent_at = self.clock()
            await self.client.send("stop")

    async def wait_period(self) -> None:
        """Sleep until the next period (pinging when nothing was sent for a while)."""
        if self.client.closed is not None:
            raise self.client.closed
        await self.sleep(max(0.0, self._next_slot - self.clock()))
        now = self.clock()
        self._next_slot = now + self.period
        if now - self._last_sent_at >= PING_EVERY_SECONDS:
            self._last_sent_at = now
            await self.client.send("ping", ct=_ms(now))


def walker_for(client: WorldClient) -> Walker:
    """The client's walker, made on first use."""
    for listener in client.frame_listeners:
        if isinstance(listener, Walker):
            return listener
    return Walker(client)


class _Until:
    def __init__(self, walker: Walker, seconds: float | None, until: asyncio.Event | None) -> None:
        self.clock, self.until = walker.clock, until
        self.deadline = None if seconds is None else walker.clock() + seconds

    def __bool__(self) -> bool:
        expired = self.deadline is not None and self.clock() >= self.deadline
        return expired or (self.until is not None and self.until.is_set())


async def wander(
    client: WorldClient,
    *,
    seconds: float | None = None,
    until: asyncio.Event | None = None,
    rng: random.Random | None = None,
    radius: float = 5.0,
    pause: float = 1.0,
    speed: float | None = None,
) -> Walker:
    """Walk to random points within ``radius`` of where it starts (of where it arrives, after a
    zone change), standing up to ``pause`` seconds at each. Without ``seconds`` or ``until`` it
    runs until cancelled."""
    walker = walker_for(client)
    rng = rng or random.Random()
    done = _Until(walker, seconds, until)
    zone_id, home = walker.zone_id, (walker.x, walker.y)
    while not done:
        if walker.zone_id != zone_id:
            zone_id, home = walker.zone_id, (walker.x, walker.y)
        goal = _pick_goal(walker, home, radius, rng)
        corrections = walker.corrections
        # Enough periods to cross the circle; a goal behind a wall is given up when stuck.
        pace = min(speed or walker.max_speed, walker.max_speed)
        budget = math.ceil(2 * radius / (pace * walker.period)) + 10
        while budget and not done and walker.corrections == corrections:
            budget -= 1
            if not await walker.step_toward(*goal, speed=speed):
                break
        await walker.stop()
        standing = _Until(walker, rng.uniform(0.0, pause), None)
        while not standing and not done:
            await walker.wait_period()
    await walker.stop()
    return walker


def _pick_goal(
    walker: Walker, home: tuple[float, float], radius: float, rng: random.Random
) -> tuple[float, float]:
    tile_map = walker.map
    for _ in range(20):
        distance, angle = radius * math.sqrt(rng.random()), rng.uniform(0.0, math.tau)
        x = round(home[0] + distance * math.cos(angle), 2)
        y = round(home[1] + distance * math.sin(angle), 2)
        if tile_of(x, y) in walker.avoided:
            continue
        if tile_map is None or (
            tile_map.is_walkable(*tile_of(x, y)) and not tile_map.in_portal(x, y)
        ):
            return x, y
    return home


async def follow(
    client: WorldClient,
    target_entity_id: int,
    *,
    distance: float = 1.5,
    seconds: float | None = None,
    until: asyncio.Event | None = None,
    speed: float | None = None,
) -> Walker:
    """Walk toward the target's latest position (``client.entities``) until within ``distance``
    (then to half of it, so a target that shuffles does not restart the walk every step); stand
    while the target is that close or out of view. Without ``seconds`` or ``until`` it runs
    until cancelled."""
    if not client.track_entities:
        raise ValueError("follow needs a client with track_entities=True")
    walker = walker_for(client)
    done = _Until(walker, seconds, until)
    while not done:
        target = client.entities.get(target_entity_id, {})
        near = "x" in target and (
            math.hypot(float(target["x"]) - walker.x, float(target["y"]) - walker.y) <= distance
        )
        if "x" not in target or near:
            await walker.stop()
            await walker.wait_period()
        elif not await walker.step_toward(
            float(target["x"]), float(target["y"]), stop_within=distance / 2, speed=speed
        ):
            await walker.stop()
    await walker.stop()
    return walker


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)
