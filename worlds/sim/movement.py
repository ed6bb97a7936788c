"""Server-side validation of client moves, vectorised over all moves of a tick in one zone.

A move says "I am now at (x, y), my clock reads ct ms". It is accepted only if all hold
(checked in this order; the first failure is the reason reported):

1. ``bounds``: the target lies inside the map.
2. ``time``: the client clock went forward since the previous move, and does not run ahead of
   the server clock by more than ``clock_drift_tolerance`` since the anchor (the move at which
   the client was the furthest behind; network delay only ever makes it look behind).
3. ``speed``: distance <= max_speed * client seconds since the previous move (at most
   ``move_gap_seconds``) * ``move_speed_slack`` + ``move_tolerance``. For the first move after
   a spawn the server clock since the spawn is used instead.
4. ``wall``: the path is on walkable tiles. A move shorter than one tile (the normal case: a
   tick's step) is checked exactly with the tile rule clients also apply: the target tile must
   be walkable, and a move into a diagonally adjacent tile needs both tiles beside that corner
   walkable (no squeezing past a blocked corner). A longer move (after a pause, or a burst of
   bunched packets) is sampled every ``path_sample_step`` tiles instead.

The functions here are pure: arrays in, verdicts out. ``zone.ZoneSim`` owns the arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from worlds.sim.config import SimConfig

OK, BOUNDS, TIME, SPEED, WALL = 0, 1, 2, 3, 4
REASON_NAMES = {BOUNDS: "bounds", TIME: "time", SPEED: "speed", WALL: "wall"}

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.signedinteger[Any]]
ByteArray = npt.NDArray[np.uint8]


@dataclass
class MoveClock:
    """Per-slot clock bookkeeping arrays (owned by the zone, indexed by slot)."""

    last_ct: FloatArray  # client ms of the previous validated move, NaN before the first
    last_now: FloatArray  # server s of the previous validated move or of the spawn
    anchor_ct: FloatArray  # client ms at the anchor (NaN: none yet)
    anchor_now: FloatArray  # server s at the anchor


@dataclass
class MoveVerdicts:
    reason: npt.NDArray[np.int8]  # OK or the first failing check
    distance: FloatArray


def validate_moves(
    *,
    config: SimConfig,
    walkable: ByteArray,
    width: int,
    height: int,
    now: float,
    from_x: FloatArray,
    from_y: FloatArray,
    to_x: FloatArray,
    to_y: FloatArray,
    client_ms: FloatArray,
    clock: MoveClock,
    slots: IntArray,
) -> MoveVerdicts:
    """Judge one batch of moves (at most one per slot). Updates ``clock`` for judged moves."""
    reason = np.zeros(len(slots), np.int8)
    dx = to_x - from_x
    dy = to_y - from_y
    distance = np.sqrt(dx * dx + dy * dy)

    inside = (to_x >= 0.0) & (to_x < width) & (to_y >= 0.0) & (to_y < height)
    reason[~inside] = BOUNDS

    previous_ct = clock.last_ct[slots]
    has_previous = ~np.isnan(previous_ct)
    went_back = has_previous & (client_ms <= previous_ct)
    anchor_ct = clock.anchor_ct[slots]
    anchor_now = clock.anchor_now[slots]
    no_anchor = np.isnan(anchor_ct)
    anchor_ct = np.where(no_anchor, client_ms, anchor_ct)
    anchor_now = np.where(no_anchor, now, anchor_now)
    lead = (client_ms - anchor_ct) / 1000.0 - (now - anchor_now)
    time_bad = went_back | (lead > config.clock_drift_tolerance)
    reason[(reason == OK) & time_bad] = TIME

    elapsed = np.where(
        has_previous,
        (client_ms - np.where(has_previous, previous_ct, 0.0)) / 1000.0,
        now - clock.last_now[slots],
    )
    elapsed = np.clip(elapsed, 0.0, config.move_gap_seconds)
    allowed = config.max_speed * elapsed * config.move_speed_slack + config.move_tolerance
    reason[(reason == OK) & (distance > allowed)] = SPEED

    candidates = np.flatnonzero(reason == OK)
    if len(candidates):
        blocked = _step_blocked(
            walkable,
            width,
            from_x[candidates],
            from_y[candidates],
            to_x[candidates],
            to_y[candidates],
            distance[candidates],
            config.path_sample_step,
        )
        reason[candidates[blocked]] = WALL

    # Clock bookkeeping for every judged move; a clock that went back keeps the later reading.
    judged_ct = np.where(has_previous, np.fmax(previous_ct, client_ms), client_ms)
    clock.last_ct[slots] = judged_ct
    clock.last_now[slots] = now
    behind = lead < 0.0
    reanchor = no_anchor | behind
    clock.anchor_ct[slots] = np.where(reanchor, client_ms, anchor_ct)
    clock.anchor_now[slots] = np.where(reanchor, now, anchor_now)
    return MoveVerdicts(reason=reason, distance=distance)


def _step_blocked(
    walkable: ByteArray,
    width: int,
    from_x: FloatArray,
    from_y: FloatArray,
    to_x: FloatArray,
    to_y: FloatArray,
    distance: FloatArray,
    step: float,
) -> npt.NDArray[np.bool_]:
    """True where the move crosses a blocking tile (see the module docstring)."""
    from_column = from_x.astype(np.int64)
    from_row = from_y.astype(np.int64)
    to_column = to_x.astype(np.int64)
    to_row = to_y.astype(np.int64)
    blocked = walkable[to_row * width + to_column] == 0
    diagonal = (from_column != to_column) & (from_row != to_row)
    if diagonal.any():
        corner_a = walkable[from_row * width + to_column] == 0
        corner_b = walkable[to_row * width + from_column] == 0
        blocked |= diagonal & (corner_a | corner_b)
    long_move = distance >= 1.0
    if long_move.any():
        chosen = np.flatnonzero(long_move)
        blocked[chosen] = _path_blocked(
            walkable,
            width,
            from_x[chosen],
            from_y[chosen],
            to_x[chosen],
            to_y[chosen],
            distance[chosen],
            step,
        )
    return blocked


def _path_blocked(
    walkable: ByteArray,
    width: int,
    from_x: FloatArray,
    from_y: FloatArray,
    to_x: FloatArray,
    to_y: FloatArray,
    distance: FloatArray,
    step: float,
) -> npt.NDArray[np.bool_]:
    """True where the target or any sample along the segment is on a blocking tile.

    Moves are bucketed by sample count so one long move does not make every short move sample
    as often. Every point is in bounds: both ends are (checked before) and the map is convex.
    """
    blocked = np.zeros(len(from_x), np.bool_)
    samples = np.ceil(distance / step).astype(np.int64)
    for bucket_max in _sample_buckets(int(samples.max(initial=1))):
        lower = bucket_max // 4 if bucket_max > 4 else 0
        chosen = np.flatnonzero((samples > lower) & (samples <= bucket_max))
        if len(chosen) == 0:
            continue
        # Fractions 1/n .. n/n of the way; n/n is the target itself.
        fractions = np.arange(1, bucket_max + 1, dtype=np.float64) / bucket_max
        px = from_x[chosen, None] + (to_x - from_x)[chosen, None] * fractions
        py = from_y[chosen, None] + (to_y - from_y)[chosen, None] * fractions
        tiles = py.astype(np.int64) * width + px.astype(np.int64)
        blocked[chosen] = (walkable[tiles] == 0).any(axis=1)
    # A zero-length move still has to stand on walkable ground (the spawn guarantees it).
    return blocked


def _sample_buckets(largest: int) -> list[int]:
    buckets = [4]
    while buckets[-1] < largest:
        buckets.append(buckets[-1] * 4)
    return buckets


def facing_from_step(dx: FloatArray, dy: FloatArray) -> IntArray:
    """Octant of the step: 0 north (y decreasing), 2 east, 4 south, 6 west."""
    angle = np.arctan2(dx, -dy)
    return np.round(angle / (math.pi / 4)).astype(np.int64) % 8
