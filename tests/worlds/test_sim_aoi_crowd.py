"""Area of interest in a crowd (ADR 0025): each viewer keeps at most ``candidate_cap``
candidates, sees at most ``aoi_cap`` entities, the nearest ones, and a standing crowd does not
flicker."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.worlds.test_sim_helpers import open_zone, state
from worlds.sim import MoveIntent, ShardSim, SimConfig, aoi
from worlds.sim.aoi import _apply_cap, _smallest_per_run, sort_by_slot
from worlds.sim.zone import ZoneSim

CENTRE = 100.0


def crowd(count: int, radius: float = 11.0, seed: int = 5) -> tuple[ShardSim, ZoneSim]:
    """``count`` players within ``radius`` tiles of one point of an open 200 x 200 zone."""
    sim = ShardSim({"alpha": open_zone(200)}, SimConfig())
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * math.pi, count)
    distance = radius * np.sqrt(rng.uniform(0, 1, count))
    xs = np.round(CENTRE + distance * np.cos(angle), 2)
    ys = np.round(CENTRE + distance * np.sin(angle), 2)
    for i, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
        sim.add_player(f"c{i}", state(i + 1, "alpha", x, y), now=0.0)
    return sim, sim.zones["alpha"]


def candidate_counts(zone: ZoneSim) -> np.ndarray:
    return np.bincount(zone.interest.viewer, minlength=zone.capacity)


def visible_sets(zone: ZoneSim) -> dict[int, frozenset[int]]:
    viewer, entity = zone.interest.visible_pairs()
    seen: dict[int, set[int]] = {slot: set() for slot in zone.players}
    for v, e in zip(viewer.tolist(), entity.tolist(), strict=True):
        seen[v].add(e)
    return {slot: frozenset(entities) for slot, entities in seen.items()}


def distances_from(zone: ZoneSim, slot: int) -> tuple[np.ndarray, np.ndarray]:
    """The other players' slots, nearest first, and their distances from ``slot``."""
    others = np.array(sorted(set(zone.players) - {slot}))
    distance = np.hypot(zone.xs[others] - zone.xs[slot], zone.ys[others] - zone.ys[slot])
    order = np.argsort(distance, kind="stable")
    return others[order], distance[order]


def test_a_crowd_of_500_keeps_at_most_the_candidate_cap_and_sees_the_nearest_96() -> None:
    sim, zone = crowd(500)
    config = sim.config
    assert (config.aoi_cap, config.candidate_cap) == (96, 192)

    sim.tick(0.05)

    assert candidate_counts(zone).max() == config.candidate_cap
    for slot, seen in visible_sets(zone).items():
        others, distance = distances_from(zone, slot)
        assert len(seen) == config.aoi_cap
        border = distance[config.aoi_cap - 1]
        seen_distance = distance[np.isin(others, list(seen))]
        assert seen_distance.max() <= border + 1e-4, slot


def test_a_standing_crowd_does_not_flicker() -> None:
    sim, zone = crowd(500)
    sim.tick(0.05)
    first = visible_sets(zone)
    for tick in range(2, 2 + 3 * sim.config.aoi_refresh_ticks):
        out = sim.tick(tick * 0.05)
        assert visible_sets(zone) == first, tick
        assert candidate_counts(zone).max() <= sim.config.candidate_cap
        assert len(out.frames) == 0  # nothing entered, left or moved: no frame at all


def test_a_walking_crowd_stays_capped_and_sees_nearly_the_nearest() -> None:
    sim, zone = crowd(300, radius=8.0)
    config = sim.config
    rng = np.random.default_rng(9)
    heading = rng.uniform(0, 2 * math.pi, zone.capacity)
    step = config.max_speed / config.tick_hz * 0.9
    overlap: list[float] = []
    for tick in range(1, 41):
        now = tick * 0.05
        for slot, player in zone.players.items():
            x, y = float(zone.xs[slot]), float(zone.ys[slot])
            if math.dist((x, y), (CENTRE, CENTRE)) > 8.0:
                heading[slot] = math.atan2(CENTRE - y, CENTRE - x)
            x, y = x + step * math.cos(heading[slot]), y + step * math.sin(heading[slot])
            sim.submit(player.conn_id, MoveIntent(tick, round(x, 2), round(y, 2), now * 1000.0))
        sim.tick(now)
        assert candidate_counts(zone).max() <= config.candidate_cap
        for slot, seen in visible_sets(zone).items():
            assert len(seen) <= config.aoi_cap
            if tick > config.aoi_refresh_ticks:
                nearest = set(distances_from(zone, slot)[0][: config.aoi_cap].tolist())
                overlap.append(len(seen & nearest) / config.aoi_cap)
    # Visibility lags (5 Hz, stickiness) and candidates are up to 8 ticks old: not exactly the
    # nearest 96 while everyone walks, but nearly (0.9 here; the uncapped code of ADR 0022 got
    # the same in this scenario).
    assert sum(overlap) / len(overlap) > 0.85


def test_a_spawn_in_a_crowd_appears_at_once_to_its_neighbours_but_not_to_the_far_side() -> None:
    sim, zone = crowd(400)
    sim.tick(0.05)
    sim.tick(0.10)
    sim.add_player("new", state(1000, "alpha", CENTRE + 0.5, CENTRE), now=0.10)
    sim.tick(0.15)
    new = next(slot for slot, player in zone.players.items() if player.conn_id == "new")
    others, distance = distances_from(zone, new)
    near, far = others[distance < 1.5].tolist(), others[distance > 9.0].tolist()
    assert near and far
    seen = visible_sets(zone)
    assert all(new in seen[slot] for slot in near)
    assert not any(new in seen[slot] for slot in far)
    assert len(seen[new]) == sim.config.aoi_cap
    # Only viewers that would have kept it as a candidate took it (their nearest 192 then).
    assert candidate_counts(zone).max() <= sim.config.candidate_cap + 1


def _smallest_by_sort(values: np.ndarray, lengths: np.ndarray, limit: int) -> list[int]:
    kept: list[int] = []
    start = 0
    for length in lengths.tolist():
        order = np.argsort(values[start : start + length], kind="stable")[:limit]
        kept.extend((start + order).tolist())
        start += length
    return sorted(kept)


@pytest.mark.parametrize("seed", range(5))
def test_smallest_per_run_keeps_what_a_stable_sort_keeps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    limit = 7
    lengths = rng.integers(limit, 60, 40)
    values = rng.integers(0, 12, int(lengths.sum())).astype(np.float64)  # many ties
    kept, largest = _smallest_per_run(values, lengths, limit)
    assert sorted(kept.tolist()) == _smallest_by_sort(values, lengths, limit)
    starts = np.cumsum(lengths) - lengths
    for run, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        assert largest[run] == np.sort(values[start : start + length])[limit - 1]


def _cap_by_sort(
    cap: int, viewer: np.ndarray, visible: np.ndarray, previously: np.ndarray, d2: np.ndarray
) -> np.ndarray:
    """The rule of ADR 0022 as it was implemented before ADR 0025 (a full stable sort)."""
    counts = np.bincount(viewer, weights=visible, minlength=1)
    index = np.flatnonzero(visible & (counts > cap)[viewer])
    rank_distance = d2[index] * np.where(previously[index], 0.8, 1.0)
    index = index[np.argsort(rank_distance, kind="stable")]
    index = index[sort_by_slot(viewer[index])]
    first = np.searchsorted(viewer[index], viewer[index], side="left")
    result = visible.copy()
    result[index[np.arange(len(index)) - first >= cap]] = False
    return result


@pytest.mark.parametrize("seed", range(5))
def test_apply_cap_keeps_the_rule_of_adr_0022(seed: int) -> None:
    rng = np.random.default_rng(seed)
    per_viewer = rng.integers(1, 40, 30)
    viewer = np.repeat(rng.permutation(200)[:30], per_viewer).astype(np.int32)
    pairs = len(viewer)
    d2 = rng.integers(0, 50, pairs).astype(np.float32)  # ties at the border
    visible = rng.random(pairs) < 0.8
    previously = rng.random(pairs) < 0.5
    expected = _cap_by_sort(10, viewer, visible, previously, d2)
    assert np.array_equal(_apply_cap(10, viewer, visible, previously, d2), expected)


def test_the_seen_lookup_without_the_flag_table_chooses_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run() -> list[dict[int, frozenset[int]]]:
        sim, zone = crowd(300, radius=8.0)
        history = []
        for tick in range(1, 12):
            for slot, player in zone.players.items():  # everyone drifts east, some faster
                x = float(zone.xs[slot]) + 0.1 * (slot % 3)
                sim.submit(
                    player.conn_id, MoveIntent(tick, round(x, 2), zone.ys[slot], tick * 50.0)
                )
            sim.tick(tick * 0.05)
            history.append(visible_sets(zone))
        return history

    with_table = run()
    monkeypatch.setattr(aoi, "_SEEN_TABLE_LIMIT", 0)
    assert run() == with_table
