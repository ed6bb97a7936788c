"""Area of interest: which entities each client sees, kept up to date incrementally per tick.

Every zone keeps the interest relation as flat NumPy arrays of *pairs* ``(viewer slot, entity
slot)`` instead of one Python set per client, so a tick costs a few dozen vector operations
however many clients there are (measured in ``bench/sim_tick.py``).

How it stays cheap and still exact:

* A uniform grid (cell side = candidate radius) is rebuilt from the positions every tick: one
  radix sort of the cell keys. Only the 3 x 3 cells around a point can hold its candidates.
* Each viewer has *candidates*: the entities within ``candidate_radius = view_radius +
  hysteresis + margin`` when its candidate list was last built. Viewers are split into
  ``aoi_refresh_ticks`` groups by slot; each tick one group's lists are rebuilt (staggered, so no
  tick pays for all). Within that period two entities close in by at most
  ``2 * SimConfig.displacement_bound(aoi_refresh_ticks)`` <= margin (``SimConfig`` checks it),
  so no entity inside the leave radius can be missing from the candidates.
* An entity that gets farther than ``aoi_step_bound`` from where it was at the end of the last
  tick or of the one before (a burst of bunched moves, a jump; ADR 0026), or that spawns or
  changes zone, is *re-paired* at once: its pairs in both directions are rebuilt. The bound spans
  two ticks so that clients moving at 10 Hz, one step every other tick, are never re-paired.
* The exact distance of a viewer's candidate pairs decides visibility: an entity enters at
  ``<= view_radius`` and stays until ``> view_radius + view_hysteresis``. Then at most
  ``aoi_cap`` entities per viewer stay visible, nearest first (already visible ones get a small
  bonus so that the cap border does not flicker). This is evaluated for each viewer every
  ``aoi_visibility_ticks`` ticks (staggered; 5 Hz by default, TrinityCore does 1 Hz) and at once
  for a viewer with new candidates (spawns, jumps, zone changes). So an entity is seen at most
  ``aoi_visibility_ticks - 1`` ticks after it came within view_radius, and is never sent beyond
  ``leave_radius + visibility_lag_distance`` (``SimConfig.max_visible_distance``). Visible
  entities' updates go out every tick.
* In a crowd a viewer's candidate list is capped at ``candidate_cap`` (ADR 0025): when a rebuild
  finds more, it keeps every entity the viewer sees now, then the nearest others. So pairs,
  block swaps and visibility passes grow with viewers x cap, not viewers x crowd. A re-paired
  entity joins a capped viewer's list only if it is nearer than the farthest one kept then.
* The result of a tick is which pairs entered, left, or are visible; the frame builder reads it.

Slots are indexes into the zone's arrays (< 65536 per zone, so sorting by slot is a radix sort).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.signedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.floating[Any]]
KeyArray = npt.NDArray[np.uint32]

MAX_SLOTS = 65535
_EMPTY_INT: IntArray = np.zeros(0, np.int64)
_EMPTY_FLOAT: FloatArray = np.zeros(0)
_EMPTY_PAIRS: npt.NDArray[np.int32] = np.zeros(0, np.int32)
_EMPTY_BOOL: BoolArray = np.zeros(0, np.bool_)
_OFFSET_COLUMNS = np.array([-1, 0, 1] * 3, np.int64)
_OFFSET_ROWS = np.repeat(np.array([-1, 0, 1], np.int64), 3)
# Already visible entities rank as if this much nearer when the cap is applied (hysteresis).
_CAP_STICKINESS = 0.8
# Largest viewer x slot flag table ``InterestSet._seen_now`` builds (bytes).
_SEEN_TABLE_LIMIT = 1 << 24


def select(mask: BoolArray, *arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
    """``[array[mask] for array in arrays]``, faster for large arrays: boolean indexing costs
    ~4 ns per element here (a branch per element), index-then-take ~1.3 (measured with numpy
    2.4 on the project machine, 73,000 pairs of which 63 % selected)."""
    index = np.flatnonzero(mask)
    return [array.take(index) for array in arrays]


def sort_by_slot(slots: npt.NDArray[Any]) -> IntArray:
    """Stable argsort of slot numbers (radix sort: slots fit in 16 bits)."""
    return np.argsort(slots.astype(np.uint16), kind="stable")


class SpatialGrid:
    """Uniform grid over the alive slots of one zone, rebuilt each tick."""

    def __init__(
        self,
        slots: IntArray,
        xs: FloatArray,
        ys: FloatArray,
        cell: float,
        width: float,
        height: float,
    ) -> None:
        self.xs = xs
        self.ys = ys
        self.cell = cell
        self.inverse_cell = 1.0 / cell
        self.columns = int(width // cell) + 1
        self.rows = int(height // cell) + 1
        cell_count = self.columns * self.rows
        keys = self._cell_keys(xs[slots], ys[slots])
        if cell_count <= MAX_SLOTS:
            order = np.argsort(keys.astype(np.uint16), kind="stable")
        else:
            order = np.argsort(keys, kind="stable")
        self.sorted_slots = slots[order]
        self.sorted_xs = xs[self.sorted_slots]
        self.sorted_ys = ys[self.sorted_slots]
        self.starts = np.zeros(cell_count + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=cell_count), out=self.starts[1:])

    def _cell_keys(self, xs: FloatArray, ys: FloatArray) -> IntArray:
        return self._cell_rows(ys) * self.columns + self._cell_columns(xs)

    # Cell numbers by multiplying with the inverse and truncating (coordinates are >= 0, and
    # clipped anyway): float ``//`` costs 7x more. Grid and queries use the same formula.
    def _cell_columns(self, xs: FloatArray) -> IntArray:
        return np.clip((xs * self.inverse_cell).astype(np.int64), 0, self.columns - 1)

    def _cell_rows(self, ys: FloatArray) -> IntArray:
        return np.clip((ys * self.inverse_cell).astype(np.int64), 0, self.rows - 1)

    def pairs_within(self, query: IntArray, radius: float) -> tuple[IntArray, IntArray, FloatArray]:
        """All ``(q, other, squared distance)`` with ``q`` in ``query``, ``other`` alive,
        ``other != q`` and distance <= radius. ``radius`` must not exceed the cell side."""
        if len(query) == 0:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_FLOAT
        qx = self.xs[query]
        qy = self.ys[query]
        qcol = self._cell_columns(qx)
        qrow = self._cell_rows(qy)
        # All 9 neighbour cells of every query point at once (one pass, not nine), query-major
        # so that the pairs come out in the order of ``query``.
        col = (qcol[:, None] + _OFFSET_COLUMNS[None, :]).ravel()
        row = (qrow[:, None] + _OFFSET_ROWS[None, :]).ravel()
        inside = (col >= 0) & (col < self.columns) & (row >= 0) & (row < self.rows)
        key = row[inside] * self.columns + col[inside]
        cells = len(_OFFSET_COLUMNS)
        owner = np.repeat(query, cells)[inside]
        owner_x = np.repeat(qx, cells)[inside]
        owner_y = np.repeat(qy, cells)[inside]
        begin = self.starts[key]
        counts = self.starts[key + 1] - begin
        total = int(counts.sum())
        if total == 0:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_FLOAT
        # Expand each cell range [begin, begin + count) into individual indexes.
        run_starts = np.cumsum(counts) - counts
        index = np.repeat(begin - run_starts, counts) + np.arange(total)
        viewer = np.repeat(owner, counts)
        other = self.sorted_slots[index]
        # Coordinates by repetition and from the cell-sorted copies: sequential reads only.
        dx_ = np.repeat(owner_x, counts) - self.sorted_xs[index]
        dy_ = np.repeat(owner_y, counts) - self.sorted_ys[index]
        distance2 = dx_ * dx_ + dy_ * dy_
        keep = (distance2 <= radius * radius) & (viewer != other)
        viewer, other, distance2 = select(keep, viewer, other, distance2)
        return viewer, other, distance2


@dataclass
class InterestDelta:
    """What changed in one tick, as parallel arrays of (viewer slot, entity slot) pairs."""

    enter_viewer: IntArray
    enter_entity: IntArray
    leave_viewer: IntArray
    leave_entity: IntArray  # the slot the entity had (it may be gone from the zone now)


class InterestSet:
    """The (viewer, entity) candidate pairs of one zone and which of them are visible."""

    def __init__(
        self,
        *,
        view_radius: float,
        leave_radius: float,
        candidate_radius: float,
        refresh_ticks: int,
        visibility_ticks: int,
        cap: int,
        candidate_cap: int | None = None,
    ) -> None:
        self.view_radius = view_radius
        self.leave_radius = leave_radius
        self.candidate_radius = candidate_radius
        self.refresh_ticks = refresh_ticks
        self.visibility_ticks = visibility_ticks
        self.cap = cap
        # Every visible entity must fit in the candidate list (ADR 0025).
        self.candidate_cap = 2 * cap if candidate_cap is None else candidate_cap
        if self.candidate_cap < cap:
            raise ValueError("candidate_cap must be at least cap")
        # Per viewer slot: squared distance up to which a re-paired entity joins its candidates
        # (inf unless the list was capped at its last rebuild).
        self._reach2: FloatArray = np.zeros(0)
        # Slot numbers as int32: half the memory traffic of int64 in the per-tick passes.
        self.viewer: npt.NDArray[np.int32] = _EMPTY_PAIRS
        self.entity: npt.NDArray[np.int32] = _EMPTY_PAIRS
        self.visible: BoolArray = _EMPTY_BOOL
        self._check_next: list[int] = []
        # Pairs are kept in blocks by viewer group (viewer % refresh_ticks), each block sorted
        # by pair key (viewer, then entity; ADR 0024): a rebuild replaces one block, a
        # visibility pass reads whole blocks, and the frame builder gets every client's pairs
        # together without sorting (``client_order``).
        self._bounds = np.zeros(refresh_ticks + 1, np.int64)
        self._previously: BoolArray = _EMPTY_BOOL
        self._order: IntArray = _EMPTY_INT
        self._rank: IntArray = _EMPTY_INT
        self._order_capacity = -1

    def __len__(self) -> int:
        return len(self.viewer)

    def update(
        self,
        *,
        tick: int,
        xs: FloatArray,
        ys: FloatArray,
        alive: BoolArray,
        viewers: BoolArray,
        repair: BoolArray,
        removed: BoolArray,
        width: float,
        height: float,
    ) -> InterestDelta:
        """Advance one tick.

        ``alive``: slots holding an entity now. ``viewers``: alive slots whose client wants
        frames (players). ``repair``: alive slots whose pairs must be rebuilt now (spawned,
        arrived, or stepped farther than the incremental bound). ``removed``: slots whose
        entity left the zone this tick (not alive any more; not reused before this call).
        """
        refresh = self.refresh_ticks
        group = tick % refresh
        group_flag = np.zeros(len(alive), np.bool_)
        group_flag[group::refresh] = True
        rebuild_viewer = (group_flag | repair) & viewers
        grid = SpatialGrid(np.flatnonzero(alive), xs, ys, self.candidate_radius, width, height)
        fresh_viewer, fresh_entity = self._cap_candidates(
            *grid.pairs_within(np.flatnonzero(rebuild_viewer), self.candidate_radius),
            rebuild_viewer,
        )
        if repair.any() or removed.any():
            new_viewer, vanished_keys = self._replace_pairs(
                grid, rebuild_viewer, viewers, repair, removed, fresh_viewer, fresh_entity
            )
            whole_groups = False
        else:
            # The common tick: exactly the rebuilt group's block is replaced.
            new_viewer, vanished_keys = self._replace_block(group, fresh_viewer, fresh_entity)
            whole_groups = True
        previously = self._previously

        # Visibility is re-evaluated for one group of viewers per tick (staggered, like the
        # candidates), plus at once for every viewer that got new candidate pairs (a spawn or
        # a jump appears immediately). Others keep last evaluation's answer meanwhile.
        visibility = self.visibility_ticks
        if whole_groups and not self._check_next and refresh % visibility == 0:
            # The visibility group is whole blocks (it contains the rebuilt one): ranges.
            bounds = self._bounds
            checked = np.concatenate(
                [
                    np.arange(bounds[block], bounds[block + 1])
                    for block in range(tick % visibility, refresh, visibility)
                ]
            )
        else:
            check_viewer = np.zeros(len(alive), np.bool_)
            check_viewer[tick % visibility :: visibility] = True
            check_viewer[new_viewer] = True
            check_viewer[self._check_next] = True
            checked = np.flatnonzero(check_viewer[self.viewer])
        self._check_next = []
        viewer = self.viewer[checked]
        entity = self.entity[checked]
        before = previously[checked]
        # float32 halves the memory traffic; 24-bit mantissas resolve 1/8000 tile at 1024.
        xs32 = xs.astype(np.float32)
        ys32 = ys.astype(np.float32)
        dx = xs32[viewer]
        dx -= xs32[entity]
        dy = ys32[viewer]
        dy -= ys32[entity]
        dx *= dx
        dy *= dy
        distance2 = dx
        distance2 += dy
        after = (distance2 <= self.view_radius**2) | (before & (distance2 <= self.leave_radius**2))
        after = _apply_cap(self.cap, viewer, after, before, distance2)
        self.visible = previously  # a new array each tick, never shared
        self.visible[checked] = after

        enter = checked[after & ~before]
        leave = checked[before & ~after]
        # Vanished pairs: the entity left the zone, or (re-paired) moved out of candidate range.
        # Only viewers still in the zone need to hear about it.
        vanished_viewer = vanished_keys >> 16
        vanished_entity = vanished_keys & 0xFFFF
        still_there = alive[vanished_viewer] & viewers[vanished_viewer]
        return InterestDelta(
            enter_viewer=self.viewer[enter],
            enter_entity=self.entity[enter],
            leave_viewer=np.concatenate([self.viewer[leave], vanished_viewer[still_there]]),
            leave_entity=np.concatenate([self.entity[leave], vanished_entity[still_there]]),
        )

    def _cap_candidates(
        self,
        viewer: IntArray,
        entity: IntArray,
        distance2: FloatArray,
        rebuilt: BoolArray,
    ) -> tuple[IntArray, IntArray]:
        """At most ``candidate_cap`` of the fresh pairs per viewer: first every entity the
        viewer sees now (so the cap never hides one by itself: no flicker), then the nearest
        others (ties by grid order). ``viewer`` must be sorted (``pairs_within`` of sorted
        queries). Records the reach of the rebuilt viewers for re-paired entities."""
        capacity = len(rebuilt)
        if len(self._reach2) < capacity:
            grown = np.full(capacity - len(self._reach2), np.inf)
            self._reach2 = np.concatenate([self._reach2, grown])
        self._reach2[rebuilt] = np.inf
        limit = self.candidate_cap
        counts = np.bincount(viewer, minlength=capacity)
        if counts.max(initial=0) <= limit:
            return viewer, entity
        crowded = np.flatnonzero(counts > limit)
        lengths = counts[crowded]
        index = _run_index((np.cumsum(counts) - counts)[crowded], lengths)
        run_entity = entity[index]
        seen = self._seen_now(crowded, lengths, run_entity, capacity)
        priority = distance2[index].astype(np.float32)
        priority[seen] = -1.0
        kept, farthest = _smallest_per_run(priority, lengths, limit)
        self._reach2[crowded] = farthest
        keep = np.ones(len(viewer), np.bool_)
        keep[index] = False
        keep[index[kept]] = True
        capped_viewer, capped_entity = select(keep, viewer, entity)
        return capped_viewer, capped_entity

    def _seen_now(
        self, viewers: IntArray, lengths: IntArray, entity: IntArray, capacity: int
    ) -> BoolArray:
        """Which of the pairs (``viewers[i]``, entity) are visible now; ``entity`` holds
        ``lengths[i]`` entities of ``viewers[i]``, viewer after viewer. A table of viewer x
        slot flags when it is small (a scatter and a gather), else a sorted-key lookup."""
        row_of = np.full(capacity, -1, np.int64)
        row_of[viewers] = np.arange(len(viewers))
        visible_viewer, visible_entity = select(
            self.visible & (row_of[self.viewer] >= 0), self.viewer, self.entity
        )
        if len(visible_viewer) == 0:
            return np.zeros(len(entity), np.bool_)
        if len(viewers) * capacity <= _SEEN_TABLE_LIMIT:
            table = np.zeros(len(viewers) * capacity, np.bool_)
            table[row_of[visible_viewer] * capacity + visible_entity] = True
            flat = np.repeat(np.arange(len(viewers)) * capacity, lengths) + entity
            seen: BoolArray = table[flat]
            return seen
        visible_keys = np.sort(_pair_keys(visible_viewer, visible_entity))
        keys = _pair_keys(np.repeat(viewers, lengths), entity)
        at = np.minimum(np.searchsorted(visible_keys, keys), len(visible_keys) - 1)
        seen = visible_keys[at] == keys
        return seen

    def _replace_block(
        self, group: int, fresh_viewer: IntArray, fresh_entity: IntArray
    ) -> tuple[IntArray, KeyArray]:
        """Swap the block of viewer group ``group`` for its fresh candidates. Sets
        ``_previously``. Blocks are kept sorted by pair key (viewer, then entity), so the old
        block's visible keys need no sort and one sort of the fresh keys orders them."""
        bounds = self._bounds
        low, high = int(bounds[group]), int(bounds[group + 1])
        prev_keys = _pair_keys(
            *select(self.visible[low:high], self.viewer[low:high], self.entity[low:high])
        )
        new_keys = np.sort(_pair_keys(fresh_viewer, fresh_entity))
        prev_kept, new_was_visible = _matches(prev_keys, new_keys)
        vanished_keys = prev_keys[~prev_kept]
        fresh_viewer, fresh_entity = _split_keys(new_keys)
        self.viewer = np.concatenate([self.viewer[:low], fresh_viewer, self.viewer[high:]])
        self.entity = np.concatenate([self.entity[:low], fresh_entity, self.entity[high:]])
        self._previously = np.concatenate(
            [self.visible[:low], new_was_visible, self.visible[high:]]
        )
        bounds[group + 1 :] += len(fresh_viewer) - (high - low)
        return fresh_viewer, vanished_keys

    def _replace_pairs(
        self,
        grid: SpatialGrid,
        rebuild_viewer: BoolArray,
        viewers: BoolArray,
        repair: BoolArray,
        removed: BoolArray,
        fresh_viewer: IntArray,
        fresh_entity: IntArray,
    ) -> tuple[IntArray, KeyArray]:
        """General case (spawns, jumps, departures): replace every pair whose viewer list is
        rebuilt or whose entity is re-paired or gone, then restore the block order. Sets
        ``_previously``. Returns the viewers of the new pairs and the keys of visible pairs
        that vanished."""
        old_viewer, old_entity, old_visible = self.viewer, self.entity, self.visible
        replaced = (rebuild_viewer | removed)[old_viewer] | (repair | removed)[old_entity]
        kept = ~replaced
        # Re-paired entities as targets of the viewers near them.
        target, viewer_of_target, distance2 = grid.pairs_within(
            np.flatnonzero(repair), self.candidate_radius
        )
        # Viewers whose own list is not rebuilt anyway; a capped one takes the entity only if
        # it is nearer than the farthest candidate it kept.
        extra = viewers[viewer_of_target] & ~rebuild_viewer[viewer_of_target]
        extra &= distance2 <= self._reach2[viewer_of_target]
        target, viewer_of_target = select(extra, target, viewer_of_target)
        new_viewer = np.concatenate([fresh_viewer, viewer_of_target])
        new_entity = np.concatenate([fresh_entity, target])

        # Carry "was visible" over to the rebuilt pairs, and notice visible pairs that vanished.
        was_visible_replaced = replaced & old_visible
        prev_keys = np.sort(_pair_keys(*select(was_visible_replaced, old_viewer, old_entity)))
        new_keys = np.sort(_pair_keys(new_viewer, new_entity))
        prev_kept, new_was_visible = _matches(prev_keys, new_keys)
        vanished_keys = prev_keys[~prev_kept]
        new_viewer, new_entity = _split_keys(new_keys)

        # Back to block order (by viewer group, then key): the kept pairs are in that order
        # already; the new ones are sorted into it and merged in by position (no full sort).
        refresh = self.refresh_ticks
        kept_viewer, kept_entity, kept_visible = select(kept, old_viewer, old_entity, old_visible)
        kept_order = _block_keys(kept_viewer, kept_entity, refresh)
        new_block_keys = _block_keys(new_viewer, new_entity, refresh)
        new_order = np.argsort(new_block_keys)
        new_block_keys = new_block_keys[new_order]
        new_viewer, new_entity = new_viewer[new_order], new_entity[new_order]
        new_was_visible = new_was_visible[new_order]
        at = np.searchsorted(kept_order, new_block_keys) + np.arange(len(new_order))
        from_kept = np.ones(len(kept_order) + len(new_order), np.bool_)
        from_kept[at] = False
        self.viewer = _merged(kept_viewer, new_viewer, at, from_kept)
        self.entity = _merged(kept_entity, new_entity, at, from_kept)
        self._previously = _merged(kept_visible, new_was_visible, at, from_kept)
        group_starts = np.arange(refresh + 1, dtype=np.uint64) << np.uint64(32)
        self._bounds = np.searchsorted(kept_order, group_starts) + np.searchsorted(
            new_block_keys, group_starts
        )
        return new_viewer, vanished_keys

    def client_order(self, capacity: int) -> tuple[IntArray, IntArray]:
        """Slots ``0..capacity-1`` in the order of the pair blocks (by viewer group, then
        slot), and each slot's position in that order: the pairs of the clients, taken in this
        order, are already together and in pair order."""
        if self._order_capacity != capacity:
            refresh = self.refresh_ticks
            order = np.concatenate(
                [np.arange(group, capacity, refresh) for group in range(refresh)]
            )
            rank = np.empty(capacity, np.int64)
            rank[order] = np.arange(capacity)
            self._order, self._rank, self._order_capacity = order, rank, capacity
        return self._order, self._rank

    def forget_viewer(self, viewer_slot: int) -> None:
        """Treat everything as unseen by this viewer, so it all enters again next tick."""
        self.visible = self.visible & (self.viewer != viewer_slot)
        self._check_next.append(viewer_slot)

    def visible_pairs(self) -> tuple[IntArray, IntArray]:
        return self.viewer[self.visible], self.entity[self.visible]

    def viewers_of(self, slots: BoolArray) -> tuple[IntArray, IntArray]:
        """Visible pairs whose entity is flagged in ``slots``: (viewer, entity)."""
        viewer, entity = select(self.visible & slots[self.entity], self.viewer, self.entity)
        return viewer, entity

    def visible_to(self, viewer_slot: int) -> IntArray:
        return self.entity[self.visible & (self.viewer == viewer_slot)]


def _pair_keys(viewer: npt.NDArray[Any], entity: npt.NDArray[Any]) -> KeyArray:
    """``viewer << 16 | entity`` as uint32 (slots are < 2**16): sorts by viewer, then entity,
    with half the memory traffic of int64 keys."""
    return (viewer.astype(np.uint32) << np.uint32(16)) | entity.astype(np.uint32)


def _split_keys(keys: KeyArray) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    return (keys >> np.uint32(16)).astype(np.int32), (keys & np.uint32(0xFFFF)).astype(np.int32)


def _block_keys(
    viewer: npt.NDArray[Any], entity: npt.NDArray[Any], refresh: int
) -> npt.NDArray[np.uint64]:
    """Sort keys of the block order: viewer group, then viewer, then entity."""
    group = (viewer % refresh).astype(np.uint64) << np.uint64(32)
    return group | _pair_keys(viewer, entity).astype(np.uint64)


def _merged(
    kept: npt.NDArray[Any], new: npt.NDArray[Any], at: IntArray, from_kept: BoolArray
) -> npt.NDArray[Any]:
    """Interleave ``new`` into ``kept``: ``new[i]`` lands at position ``at[i]``."""
    merged = np.empty(len(from_kept), kept.dtype)
    merged[at] = new
    merged[from_kept] = kept
    return merged


def _matches(first: KeyArray, second: KeyArray) -> tuple[BoolArray, BoolArray]:
    """For two sorted arrays of distinct keys: which keys of ``first`` are in ``second`` and
    which of ``second`` are in ``first``. One stable argsort of both (it merges the two sorted
    runs) and a neighbour comparison: a third of the cost of two ``searchsorted`` lookups."""
    both = np.concatenate([first, second])
    order = np.argsort(both, kind="stable")
    merged = both[order]
    equal = np.flatnonzero(merged[1:] == merged[:-1])
    # Stable: of two equal keys the one from ``first`` comes first.
    in_second = np.zeros(len(first), np.bool_)
    in_second[order[equal]] = True
    in_first = np.zeros(len(second), np.bool_)
    in_first[order[equal + 1] - len(first)] = True
    return in_second, in_first


def _apply_cap(
    cap: int,
    viewer: npt.NDArray[Any],
    visible: BoolArray,
    previously: BoolArray,
    distance2: npt.NDArray[Any],
) -> BoolArray:
    """Keep at most ``cap`` visible pairs per viewer, nearest first (already visible ones rank
    ``_CAP_STICKINESS`` nearer; ties by position, i.e. entity order). All pairs of a viewer must
    be in the arrays and together (they are: blocks are sorted by pair key)."""
    counts = np.bincount(viewer, weights=visible, minlength=1)
    if counts.max(initial=0) <= cap:
        return visible
    starts = np.flatnonzero(np.concatenate([[True], viewer[1:] != viewer[:-1]]))
    lengths = np.diff(np.append(starts, len(viewer)))
    crowded = counts[viewer[starts]] > cap
    lengths = lengths[crowded]
    index = _run_index(starts[crowded], lengths)
    stickiness = np.where(previously[index], _CAP_STICKINESS, 1.0)
    rank_distance = np.where(visible[index], distance2[index] * stickiness, np.inf)
    kept, _ = _smallest_per_run(rank_distance, lengths, cap)
    visible = visible.copy()
    visible[index] = False
    visible[index[kept]] = True
    return visible


def _run_index(starts: IntArray, lengths: IntArray) -> IntArray:
    """Every index of the runs ``[start, start + length)``, run after run."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))


def _smallest_per_run(
    values: FloatArray, lengths: IntArray, limit: int
) -> tuple[IntArray, FloatArray]:
    """Runs laid out one after another in ``values`` (run ``i`` has ``lengths[i]`` items, at
    least ``limit`` of them finite): the positions of each run's ``limit`` smallest values,
    ties by position (what a stable sort would keep), and each run's largest kept value.

    A partial sort per run without a Python loop over runs: runs of similar length (the same
    power of two) become the rows of a padded matrix, one ``np.partition`` along the rows per
    length class, so padding at most doubles the work. O(items), unlike a sort of all items.
    """
    starts = np.cumsum(lengths) - lengths
    length_class = np.log2(np.maximum(lengths, 1)).astype(np.int64)
    kept: list[IntArray] = []
    largest = np.empty(len(lengths))
    for size in np.unique(length_class).tolist():
        rows = np.flatnonzero(length_class == size)
        row_lengths = lengths[rows]
        column = np.arange(int(row_lengths.max()))
        inside = column < row_lengths[:, None]
        position = np.minimum(starts[rows, None] + column, len(values) - 1)
        matrix = np.where(inside, values[position], np.inf)
        kth = np.partition(matrix, limit - 1, axis=1)[:, limit - 1]
        take = matrix <= kth[:, None]
        # Ties at the k-th value beyond the room left: keep the first ones (rare with floats).
        over = np.flatnonzero(take.sum(axis=1) > limit)
        if len(over):
            tied = matrix[over] == kth[over, None]
            room = limit - (matrix[over] < kth[over, None]).sum(axis=1)
            take[over] &= ~tied | (np.cumsum(tied, axis=1) <= room[:, None])
        kept.append(position[take])
        largest[rows] = kth
    return np.concatenate(kept), largest
