"""The layout of the interest pairs (ADR 0023/0024): blocks by viewer group, each sorted by
pair key, kept through common ticks (one block swapped) and general ticks (merge)."""

from __future__ import annotations

import numpy as np

from worlds.sim.aoi import (
    InterestSet,
    _block_keys,
    _matches,
    _merged,
    _pair_keys,
    _split_keys,
)


def _interest() -> InterestSet:
    return InterestSet(
        view_radius=10.0,
        leave_radius=12.0,
        candidate_radius=15.0,
        refresh_ticks=4,
        visibility_ticks=2,
        cap=96,
    )


def _assert_block_layout(interest: InterestSet) -> None:
    keys = _block_keys(interest.viewer, interest.entity, interest.refresh_ticks)
    assert np.all(keys[1:] > keys[:-1]), "pairs not in block order (group, viewer, entity)"
    bounds = interest._bounds
    assert bounds[0] == 0 and bounds[-1] == len(interest.viewer)
    for group in range(interest.refresh_ticks):
        block = interest.viewer[bounds[group] : bounds[group + 1]]
        assert np.all(block % interest.refresh_ticks == group)


def test_pair_keys_split_back_and_sort_by_viewer_then_entity() -> None:
    viewer = np.array([3, 0, 65535, 3], np.int32)
    entity = np.array([9, 65535, 0, 2], np.int32)
    keys = _pair_keys(viewer, entity)
    assert keys.dtype == np.uint32
    split_viewer, split_entity = _split_keys(keys)
    assert split_viewer.tolist() == viewer.tolist() and split_entity.tolist() == entity.tolist()
    order = np.argsort(keys)
    assert list(zip(viewer[order].tolist(), entity[order].tolist(), strict=True)) == [
        (0, 65535),
        (3, 2),
        (3, 9),
        (65535, 0),
    ]


def test_merged_interleaves_sorted_runs_by_position() -> None:
    kept = np.array([1, 4, 6, 9])
    new = np.array([0, 5, 10])
    at = np.searchsorted(kept, new) + np.arange(len(new))
    from_kept = np.ones(len(kept) + len(new), np.bool_)
    from_kept[at] = False
    assert _merged(kept, new, at, from_kept).tolist() == [0, 1, 4, 5, 6, 9, 10]


def test_matches_finds_common_keys_of_two_sorted_key_arrays() -> None:
    first = np.array([1, 5, 7, 2**32 - 1], np.uint32)
    second = np.array([0, 5, 6, 2**32 - 1], np.uint32)
    in_second, in_first = _matches(first, second)
    assert in_second.tolist() == [False, True, False, True]
    assert in_first.tolist() == [False, True, False, True]
    empty = np.zeros(0, np.uint32)
    assert _matches(empty, second)[1].tolist() == [False] * 4
    assert _matches(first, empty)[0].tolist() == [False] * 4
    rng = np.random.default_rng(5)
    pool = np.unique(rng.integers(0, 2**32 - 1, 3000, dtype=np.uint64)).astype(np.uint32)
    a = np.sort(rng.choice(pool, 1000, replace=False))
    b = np.sort(rng.choice(pool, 1500, replace=False))
    in_b, in_a = _matches(a, b)
    assert in_b.tolist() == np.isin(a, b).tolist()
    assert in_a.tolist() == np.isin(b, a).tolist()


def test_blocks_stay_sorted_through_common_and_general_ticks() -> None:
    rng = np.random.default_rng(3)
    slots = 300
    xs = rng.uniform(0, 80, slots)
    ys = rng.uniform(0, 80, slots)
    alive = np.ones(slots, np.bool_)
    interest = _interest()
    repair = alive.copy()
    removed = np.zeros(slots, np.bool_)
    for tick in range(40):
        xs = np.clip(xs + rng.uniform(-0.3, 0.3, slots), 0, 79.9)
        ys = np.clip(ys + rng.uniform(-0.3, 0.3, slots), 0, 79.9)
        interest.update(
            tick=tick,
            xs=xs,
            ys=ys,
            alive=alive,
            viewers=alive,
            repair=repair,
            removed=removed,
            width=80.0,
            height=80.0,
        )
        _assert_block_layout(interest)
        visible_viewer, visible_entity = interest.visible_pairs()
        distance = np.hypot(
            xs[visible_viewer] - xs[visible_entity], ys[visible_viewer] - ys[visible_entity]
        )
        assert np.all(distance <= 12.0 + 4 * 0.3 * 2)
        # Every third tick someone leaves, someone (re)joins and someone jumps: general path.
        repair = np.zeros(slots, np.bool_)
        removed = np.zeros(slots, np.bool_)
        if tick % 3 == 0:
            gone = rng.choice(np.flatnonzero(alive), 3, replace=False)
            back = np.flatnonzero(~alive)[:2]
            alive[gone] = False
            removed[gone] = True
            alive[back] = True
            repair[back] = True
            jumper = rng.choice(np.flatnonzero(alive & ~repair))
            xs[jumper] = rng.uniform(0, 80)
            repair[jumper] = True
