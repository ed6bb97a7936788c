"""One running zone: entity slots, positions as arrays, queued moves and the interest set.

Positions and per-entity movement bookkeeping live in NumPy arrays indexed by *slot*, so that
validating 5,000 moves, computing visibility and rendering position updates are a few vector
operations per tick. ``Player`` objects hold everything else and know their slot. Slots freed
during a tick are reused only after the tick, so arrays and interest pairs stay consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from worlds.sim.aoi import MAX_SLOTS, InterestDelta, InterestSet
from worlds.sim.config import SimConfig
from worlds.sim.entities import Player
from worlds.sim.frames import EnterRowTable, RecordRenderer
from worlds.sim.intents import MoveIntent
from worlds.sim.movement import OK, MoveClock, facing_from_step, validate_moves
from worlds.sim.zonemap import Portal, ZoneMap

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.signedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]


_MOVE_WIDTH = len(MoveIntent._fields)


@dataclass
class MoveOutcome:
    rejected: list[tuple[Player, int]]  # (player, reason code)
    portals: list[tuple[Player, Portal]]


class ZoneSim:
    """The simulation state of one zone. Used by ``ShardSim``; not an adapter API."""

    def __init__(self, zone_map: ZoneMap, config: SimConfig, capacity: int = 64) -> None:
        self.map = zone_map
        self.config = config
        self.walkable = np.frombuffer(zone_map.walkable_mask, dtype=np.uint8)
        portal_tiles = np.zeros(zone_map.width * zone_map.height, np.int64)
        for index, portal in enumerate(zone_map.portals):
            for row in range(portal.y, portal.y + portal.height):
                start = row * zone_map.width + portal.x
                portal_tiles[start : start + portal.width] = index + 1
        self.portal_tiles = portal_tiles
        self.capacity = 0
        self.xs: FloatArray = np.zeros(0)
        self.ys: FloatArray = np.zeros(0)
        # Positions at the end of the last two ticks: the AOI's step bound spans two ticks.
        self.xs_one_tick_ago: FloatArray = np.zeros(0)
        self.ys_one_tick_ago: FloatArray = np.zeros(0)
        self.xs_two_ticks_ago: FloatArray = np.zeros(0)
        self.ys_two_ticks_ago: FloatArray = np.zeros(0)
        self.facing: IntArray = np.zeros(0, np.int64)
        self.entity_ids: IntArray = np.zeros(0, np.int64)
        self.generation: IntArray = np.zeros(0, np.int64)
        self.correction_ids: IntArray = np.zeros(0, np.int64)
        self.alive: BoolArray = np.zeros(0, np.bool_)
        self.is_viewer: BoolArray = np.zeros(0, np.bool_)
        self.moved: BoolArray = np.zeros(0, np.bool_)
        self.repair: BoolArray = np.zeros(0, np.bool_)
        self.removed: BoolArray = np.zeros(0, np.bool_)
        self.durable_dirty: BoolArray = np.zeros(0, np.bool_)
        self.walking: BoolArray = np.zeros(0, np.bool_)
        # Per-client frame bookkeeping, read vectorised when frames are built.
        self.attached: BoolArray = np.zeros(0, np.bool_)
        self.json_client: BoolArray = np.zeros(0, np.bool_)
        self.last_seq: IntArray = np.zeros(0, np.int64)
        self.last_acked: IntArray = np.zeros(0, np.int64)
        self.conn_ids: npt.NDArray[np.object_] = np.zeros(0, np.object_)
        self.clock = MoveClock(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
        self.renderer = RecordRenderer(zone_map.width, zone_map.height)
        self.enter_rows = EnterRowTable()  # JSON enter records per slot, see ShardSim
        # Slots that moved in ticks whose JSON rows were not rendered (no JSON frames then).
        self._render_stale: BoolArray | None = None
        self._rendered = False
        self._grow(capacity)
        self.players: dict[int, Player] = {}
        self.removed_entity_ids: dict[int, int] = {}
        self.changed_fields: dict[int, dict[str, Any]] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))
        self._free_after_tick: list[int] = []
        # A tick's first move of each player (the common case, vectorised in one batch) and
        # any further moves of the same player in that tick, (slot, generation, intent).
        self._first_slots: list[int] = []
        # The fields of each first move, flattened as they arrive (seq, x, y, ct, cid, seq, ...):
        # one float array per tick from a flat list is about half the cost of one from tuples.
        self._first_move_fields: list[float] = []
        self._later_moves: list[tuple[int, int, MoveIntent]] = []
        self.interest = InterestSet(
            view_radius=config.view_radius,
            leave_radius=config.leave_radius,
            candidate_radius=config.candidate_radius,
            refresh_ticks=config.aoi_refresh_ticks,
            visibility_ticks=config.aoi_visibility_ticks,
            cap=config.aoi_cap,
            candidate_cap=config.candidate_cap,
        )

    # -- slots -----------------------------------------------------------------------------

    def _grow(self, new_capacity: int) -> None:
        if new_capacity > MAX_SLOTS:
            raise RuntimeError(f"zone {self.map.id} is full ({MAX_SLOTS} entities)")
        old = self.capacity
        extra = new_capacity - old

        def grown(array: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
            return np.concatenate([array, np.full(extra, fill, dtype=array.dtype)])

        self.xs = grown(self.xs, 0.0)
        self.ys = grown(self.ys, 0.0)
        self.xs_two_ticks_ago = grown(self.xs_two_ticks_ago, np.nan)
        self.ys_two_ticks_ago = grown(self.ys_two_ticks_ago, np.nan)
        self.xs_one_tick_ago = grown(self.xs_one_tick_ago, np.nan)
        self.ys_one_tick_ago = grown(self.ys_one_tick_ago, np.nan)
        self.facing = grown(self.facing, 0)
        self.entity_ids = grown(self.entity_ids, 0)
        self.generation = grown(self.generation, 0)
        self.correction_ids = grown(self.correction_ids, 0)
        self.last_seq = grown(self.last_seq, 0)
        self.last_acked = grown(self.last_acked, 0)
        self.conn_ids = grown(self.conn_ids, None)
        for name in (
            "alive",
            "is_viewer",
            "moved",
            "repair",
            "removed",
            "durable_dirty",
            "walking",
            "attached",
            "json_client",
        ):
            setattr(self, name, grown(getattr(self, name), False))
        self.clock = MoveClock(
            last_ct=grown(self.clock.last_ct, np.nan),
            last_now=grown(self.clock.last_now, 0.0),
            anchor_ct=grown(self.clock.anchor_ct, np.nan),
            anchor_now=grown(self.clock.anchor_now, 0.0),
        )
        self.renderer.grow(new_capacity)
        self._render_stale = None  # the renderer rewrites every row after a resize anyway
        self.capacity = new_capacity
        if old:
            self._free.extend(range(new_capacity - 1, old - 1, -1))

    def add_player(self, player: Player, x: float, y: float, facing: int, now: float) -> int:
        if not self._free:
            self._grow(min(self.capacity * 2, MAX_SLOTS))
        slot = self._free.pop()
        self.xs[slot] = x
        self.ys[slot] = y
        for past in (
            self.xs_one_tick_ago,
            self.ys_one_tick_ago,
            self.xs_two_ticks_ago,
            self.ys_two_ticks_ago,
        ):
            past[slot] = np.nan  # a new entity: nothing to compare its first steps with
        self.facing[slot] = facing
        self.entity_ids[slot] = player.entity_id
        self.renderer.set_entity_id(slot, player.entity_id)
        self.enter_rows.forget(slot)
        self.generation[slot] += 1
        self.correction_ids[slot] = player.cid
        self.alive[slot] = True
        self.is_viewer[slot] = True
        self.repair[slot] = True
        self.moved[slot] = False
        self.durable_dirty[slot] = False
        self.walking[slot] = player.moving
        self.reset_move_clock(slot, now)
        player.slot = slot
        player.zone_id = self.map.id
        self.players[slot] = player
        self.bind_client(player)
        return slot

    def remove_player(self, player: Player) -> tuple[float, float, int, bool]:
        """Take the player out; returns its final (x, y, facing, durable_dirty)."""
        slot = player.slot
        result = (
            float(self.xs[slot]),
            float(self.ys[slot]),
            int(self.facing[slot]),
            bool(self.durable_dirty[slot]),
        )
        self.alive[slot] = False
        self.is_viewer[slot] = False
        self.attached[slot] = False
        self.conn_ids[slot] = None
        self.repair[slot] = False
        self.removed[slot] = True
        self.durable_dirty[slot] = False
        self.removed_entity_ids[slot] = player.entity_id
        self.enter_rows.forget(slot)
        self.changed_fields.pop(slot, None)
        del self.players[slot]
        self._free_after_tick.append(slot)
        player.slot = -1
        return result

    def bind_client(self, player: Player) -> None:
        """(Re)read the player's connection details into the per-slot arrays."""
        slot = player.slot
        self.attached[slot] = player.attached
        self.json_client[slot] = player.encoding == "json"
        self.conn_ids[slot] = player.conn_id
        self.last_seq[slot] = player.last_seq
        self.last_acked[slot] = player.last_acked

    def position(self, slot: int) -> tuple[float, float, int]:
        return float(self.xs[slot]), float(self.ys[slot]), int(self.facing[slot])

    def reset_move_clock(self, slot: int, now: float) -> None:
        """Forget the client clock of this slot: a new connection (join, reconnect, takeover)
        starts its own ``ct`` timeline, which must not be judged against the previous one."""
        self.clock.last_ct[slot] = np.nan
        self.clock.last_now[slot] = now
        self.clock.anchor_ct[slot] = np.nan
        self.clock.anchor_now[slot] = now

    def set_facing(self, slot: int, facing: int) -> None:
        if int(self.facing[slot]) != facing:
            self.facing[slot] = facing
            self.moved[slot] = True
            self.durable_dirty[slot] = True

    def set_correction(self, slot: int, correction_id: int) -> None:
        self.correction_ids[slot] = correction_id

    def set_walking(self, slot: int, walking: bool) -> None:
        if bool(self.walking[slot]) != walking:
            self.walking[slot] = walking
            self.players[slot].moving = walking
            self.note_change(slot, mv=walking)

    def note_change(self, slot: int, **fields: Any) -> None:
        """Record non-position fields that viewers must see change (sent in ``chg``)."""
        self.changed_fields.setdefault(slot, {}).update(fields)

    # -- moves -----------------------------------------------------------------------------

    def queue_move(self, player: Player, intent: MoveIntent, first_this_tick: bool) -> None:
        if first_this_tick:
            self._first_slots.append(player.slot)
            self._first_move_fields.extend(intent)
        else:
            slot = player.slot
            self._later_moves.append((slot, int(self.generation[slot]), intent))

    def process_moves(self, now: float) -> MoveOutcome:
        """Validate and apply the queued moves: first moves in one batch, then any second
        moves of the same players in a second batch, and so on (in arrival order)."""
        outcome = MoveOutcome(rejected=[], portals=[])
        if not self._first_slots:
            return outcome
        slots = np.fromiter(self._first_slots, np.int64, count=len(self._first_slots))
        fields = self._first_move_fields
        moves = np.fromiter(fields, np.float64, count=len(fields)).reshape(-1, _MOVE_WIDTH)
        generations = self.generation[slots]
        later = self._later_moves
        self._first_slots, self._first_move_fields, self._later_moves = [], [], []
        touched = [self._apply_batch(now, slots, generations, moves, outcome)]
        for batch_slots, batch_generations, batch_moves in _later_batches(later):
            touched.append(
                self._apply_batch(now, batch_slots, batch_generations, batch_moves, outcome)
            )
        self._repair_long_steps(np.concatenate(touched))
        return outcome

    def _repair_long_steps(self, moved_slots: IntArray) -> None:
        """Re-pair movers that got farther than the AOI's step bound since the end of the last
        tick or of the one before (a burst of bunched moves, a jump). NaN (a slot filled since
        then) compares false: such a slot was re-paired when it was filled."""
        bound2 = self.config.aoi_step_bound**2
        xs, ys = self.xs[moved_slots], self.ys[moved_slots]
        for past_x, past_y in (
            (self.xs_one_tick_ago, self.ys_one_tick_ago),
            (self.xs_two_ticks_ago, self.ys_two_ticks_ago),
        ):
            step_x = xs - past_x[moved_slots]
            step_y = ys - past_y[moved_slots]
            self.repair[moved_slots[step_x * step_x + step_y * step_y > bound2]] = True

    def _apply_batch(
        self,
        now: float,
        slots: IntArray,
        generations: IntArray,
        moves: FloatArray,
        outcome: MoveOutcome,
    ) -> IntArray:
        """Columns of ``moves``: seq, x, y, ct, cid (the MoveIntent fields)."""
        seqs = moves[:, 0].astype(np.int64)
        self.last_seq[slots] = np.maximum(self.last_seq[slots], seqs)
        current = (self.generation[slots] == generations) & self.alive[slots]
        current &= self.correction_ids[slots] == moves[:, 4].astype(np.int64)
        if not current.all():
            # The player left the zone, or got a correction, earlier in this tick: its later
            # moves were made from a position the server did not accept. Void, not cheating.
            slots = slots[current]
            moves = moves[current]
        if len(slots):
            self._apply_round(now, slots, moves[:, 1], moves[:, 2], moves[:, 3], outcome)
        return slots

    def _apply_round(
        self,
        now: float,
        slots: IntArray,
        to_x: FloatArray,
        to_y: FloatArray,
        client_ms: FloatArray,
        outcome: MoveOutcome,
    ) -> None:
        from_x = self.xs[slots]
        from_y = self.ys[slots]
        verdicts = validate_moves(
            config=self.config,
            walkable=self.walkable,
            width=self.map.width,
            height=self.map.height,
            now=now,
            from_x=from_x,
            from_y=from_y,
            to_x=to_x,
            to_y=to_y,
            client_ms=client_ms,
            clock=self.clock,
            slots=slots,
        )
        accepted = verdicts.reason == OK
        ok_slots = slots[accepted]
        ok_x = to_x[accepted]
        ok_y = to_y[accepted]
        self.xs[ok_slots] = ok_x
        self.ys[ok_slots] = ok_y
        stepped = verdicts.distance[accepted] > 1e-9
        turn_slots = ok_slots[stepped]
        self.facing[turn_slots] = facing_from_step(
            (ok_x - from_x[accepted])[stepped], (ok_y - from_y[accepted])[stepped]
        )
        self.moved[ok_slots] = True
        self.durable_dirty[ok_slots] = True
        started = ok_slots[~self.walking[ok_slots]]
        if len(started):
            self.walking[started] = True
            for slot in started.tolist():
                self.players[slot].moving = True
                self.note_change(slot, mv=True)
        if not accepted.all():
            rejected = np.flatnonzero(~accepted)
            for slot, reason in zip(
                slots[rejected].tolist(), verdicts.reason[rejected].tolist(), strict=True
            ):
                outcome.rejected.append((self.players[slot], reason))
        if self.map.portals:
            tiles = ok_y.astype(np.int64) * self.map.width + ok_x.astype(np.int64)
            portal_index = self.portal_tiles[tiles]
            for slot, index in zip(
                ok_slots[portal_index > 0].tolist(),
                portal_index[portal_index > 0].tolist(),
                strict=True,
            ):
                outcome.portals.append((self.players[slot], self.map.portals[index - 1]))

    def json_records(self) -> npt.NDArray[np.uint8]:
        """This tick's JSON ``upd`` rows, one per slot (see ``RecordRenderer.json_rows``): only
        the rows of slots that moved, spawned or arrived since the last rendering change."""
        changed = self.moved | self.repair
        if self._render_stale is not None:
            changed |= self._render_stale
            self._render_stale = None
        self._rendered = True
        return self.renderer.json_rows(self.xs, self.ys, self.facing, changed)

    # -- interest --------------------------------------------------------------------------

    def update_interest(self, tick: int) -> InterestDelta:
        return self.interest.update(
            tick=tick,
            xs=self.xs,
            ys=self.ys,
            alive=self.alive,
            viewers=self.is_viewer,
            repair=self.repair,
            removed=self.removed,
            width=float(self.map.width),
            height=float(self.map.height),
        )

    def end_tick(self) -> None:
        if not self._rendered:
            stale = self.moved | self.repair
            self._render_stale = stale if self._render_stale is None else stale | self._render_stale
        self._rendered = False
        self.last_acked[:] = self.last_seq
        self.xs_two_ticks_ago, self.xs_one_tick_ago = self.xs_one_tick_ago, self.xs_two_ticks_ago
        self.ys_two_ticks_ago, self.ys_one_tick_ago = self.ys_one_tick_ago, self.ys_two_ticks_ago
        self.xs_one_tick_ago[:] = self.xs
        self.ys_one_tick_ago[:] = self.ys
        self.moved[:] = False
        self.repair[:] = False
        self.removed[:] = False
        self.removed_entity_ids.clear()
        self.changed_fields.clear()
        if self._free_after_tick:
            self._free.extend(reversed(self._free_after_tick))
            self._free_after_tick.clear()


def _later_batches(
    later: list[tuple[int, int, MoveIntent]],
) -> list[tuple[IntArray, IntArray, FloatArray]]:
    """Split a tick's extra moves into batches with at most one move per slot, in order."""
    rounds: list[list[tuple[int, int, MoveIntent]]] = []
    seen: dict[int, int] = {}
    for item in later:
        index = seen.get(item[0], 0)
        seen[item[0]] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(item)
    return [
        (
            np.array([slot for slot, _, _ in batch], np.int64),
            np.array([generation for _, generation, _ in batch], np.int64),
            np.array([tuple(intent) for _, _, intent in batch], np.float64).reshape(
                -1, _MOVE_WIDTH
            ),
        )
        for batch in rounds
    ]
