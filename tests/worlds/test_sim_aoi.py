"""Area of interest: who sees whom, enter/leave on crossing the radius, the cap, deltas."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from tests.worlds.test_sim_helpers import (
    Driver,
    enter_ids,
    frame_of,
    leave_ids,
    open_zone,
    upd_ids,
)
from worlds.sim import FaceIntent
from worlds.sim.aoi import InterestDelta
from worlds.sim.zone import ZoneSim


def small_view(**extra: float) -> Driver:
    config = {"view_radius": 10.0, "view_hysteresis": 2.0, **extra}
    return Driver.create([open_zone(200)], **config)


def test_near_player_is_seen_far_player_is_never_sent() -> None:
    driver = small_view()
    me = driver.join("me", 1, "alpha", 50.0, 50.0)
    near = driver.join("near", 2, "alpha", 55.0, 50.0)
    far = driver.join("far", 3, "alpha", 70.0, 50.0)  # 2 x view radius away

    frames = []
    for step in range(10):
        driver.move("near", 55.0, 50.0 + 0.25 * (step + 1))
        driver.move("far", 70.0, 50.0 + 0.25 * (step + 1))
        frames.append(frame_of(driver.tick(), "me"))

    assert enter_ids(frames[0]) == {near}
    assert all(far not in upd_ids(f) and far not in enter_ids(f) for f in frames)
    assert all(near in upd_ids(f) for f in frames)
    assert driver.sim.visible_entity_ids("me") == {near}
    assert me in driver.sim.visible_entity_ids("near")


def walk(driver: Driver, conn_id: str, target_x: float, y: float, ticks: int) -> list[dict]:
    """Walk east/west at ~5.6 tiles/s; returns the frames of "me" meanwhile."""
    frames = []
    x, _ = driver.position(conn_id)
    for _ in range(ticks):
        step = max(-0.28, min(0.28, target_x - x))
        x = round(x + step, 2)
        driver.move(conn_id, x, y)
        frame = frame_of(driver.tick(), "me")
        if frame:
            frames.append(frame)
    return frames


def test_leave_after_the_hysteresis_border_and_enter_again_inside_the_radius() -> None:
    driver = small_view()
    driver.join("me", 1, "alpha", 50.0, 50.0)
    other = driver.join("other", 2, "alpha", 58.0, 50.0)
    driver.tick()
    assert other in driver.sim.visible_entity_ids("me")

    walk(driver, "other", 61.0, 50.0, 20)  # 11 tiles: beyond 10, within 12
    assert other in driver.sim.visible_entity_ids("me")

    out_frames = walk(driver, "other", 63.0, 50.0, 12)
    assert other not in driver.sim.visible_entity_ids("me")
    assert sum(other in leave_ids(f) for f in out_frames) == 1

    back_frames = walk(driver, "other", 59.0, 50.0, 20)
    assert other in driver.sim.visible_entity_ids("me")
    assert sum(other in enter_ids(f) for f in back_frames) == 1
    entered = next(f for f in back_frames if other in enter_ids(f))
    assert other in upd_ids(entered)  # its position arrives in the same frame
    assert math.dist(driver.position("other"), (50.0, 50.0)) <= 10.0 + 0.3


def test_the_cap_keeps_the_nearest() -> None:
    driver = small_view(aoi_cap=3)
    driver.join("me", 1, "alpha", 50.0, 50.0)
    distances = [9.0, 2.0, 7.0, 4.0, 8.0, 1.0]
    ids = {
        distance: driver.join(f"o{i}", 10 + i, "alpha", 50.0 + distance, 50.0)
        for i, distance in enumerate(distances)
    }

    frame = frame_of(driver.tick(), "me")

    nearest = {ids[1.0], ids[2.0], ids[4.0]}
    assert enter_ids(frame) == nearest
    assert driver.sim.visible_entity_ids("me") == nearest


def test_a_burst_move_into_view_is_seen_in_the_same_tick() -> None:
    # Candidates are rebuilt only every aoi_refresh_ticks; a step longer than the incremental
    # bound must re-pair the mover at once.
    driver = Driver.create(
        [open_zone(200)],
        view_radius=5.0,
        view_hysteresis=1.0,
        max_speed=10.0,
        aoi_candidate_margin=8.8,
    )
    driver.join("me", 1, "alpha", 50.0, 50.0)
    jumper = driver.join("jumper", 2, "alpha", 65.5, 50.0)  # beyond the candidate radius
    driver.idle(20)

    driver.move("jumper", 54.9, 50.0)  # 10.6 tiles after a second of standing still
    frame = frame_of(driver.tick(), "me")

    assert driver.position("jumper") == (54.9, 50.0)
    assert jumper in enter_ids(frame)


def test_only_changed_fields_are_sent() -> None:
    driver = small_view()
    driver.join("me", 1, "alpha", 50.0, 50.0)
    other = driver.join("other", 2, "alpha", 52.0, 50.0)
    driver.tick()

    quiet = frame_of(driver.tick(), "me")
    driver.submit("other", FaceIntent(driver.next_seq("other"), 6))
    turned = frame_of(driver.tick(), "me")

    assert quiet is None  # nothing changed: no frame at all
    assert turned is not None
    assert turned["upd"] == [[other, 52.0, 50.0, 6]]
    assert set(turned) == {"t", "tick", "ack", "upd"}


def test_leaving_the_world_sends_leave_to_viewers_only() -> None:
    driver = small_view()
    driver.join("me", 1, "alpha", 50.0, 50.0)
    driver.join("far", 3, "alpha", 90.0, 50.0)
    other = driver.join("other", 2, "alpha", 52.0, 50.0)
    driver.tick()

    driver.sim.remove_player("other")
    out = driver.tick()

    assert leave_ids(frame_of(out, "me")) == {other}
    assert frame_of(out, "far") is None


def test_one_frame_per_client_per_tick() -> None:
    driver = small_view()
    for i in range(20):
        driver.join(f"c{i}", i + 1, "alpha", 50.0 + i % 5, 50.0 + i // 5)
    for _ in range(5):
        for i in range(20):
            x, y = driver.position(f"c{i}")
            driver.move(f"c{i}", x + 0.1, y)
            driver.move(f"c{i}", x + 0.2, y, ct=driver.client_ms() + 1)
        out = driver.tick()
        conn_ids = list(out.frames)
        assert len(conn_ids) == len(set(conn_ids)) == len(out.frames) == 20


@pytest.mark.parametrize(
    ("visibility_ticks", "move_every", "step"),
    [
        (1, 1, 0.28),
        (4, 1, 0.28),
        (1, 2, 0.6),  # a 10 Hz client at full speed: 0.6 tiles every other tick
        (4, 2, 0.6),
    ],
)
def test_visibility_matches_brute_force_while_everyone_wanders(
    visibility_ticks: int, move_every: int, step: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    driver = small_view(aoi_visibility_ticks=visibility_ticks)
    config = driver.sim.config
    # Re-evaluated every visibility_ticks: allow for what two walkers cover meanwhile.
    lag = config.visibility_lag_distance
    surely_seen = config.view_radius - lag
    never_seen = config.max_visible_distance
    assert (surely_seen, never_seen) == (
        (10.0, 12.0) if visibility_ticks == 1 else (10.0 - lag, 12.0 + lag)
    )
    repairs = count_repairs(monkeypatch)
    count = 40
    for i in range(count):
        driver.join(f"c{i}", i + 1, "alpha", rng.uniform(60, 100), rng.uniform(60, 100))
    headings = [rng.uniform(0, 2 * math.pi) for _ in range(count)]
    driver.tick()
    repairs.clear()  # the joins
    for tick in range(60):
        for i in range(count if tick % move_every == 0 else 0):
            if rng.random() < 0.1:
                headings[i] = rng.uniform(0, 2 * math.pi)
            x, y = driver.position(f"c{i}")
            nx = min(max(x + step * math.cos(headings[i]), 40.0), 120.0)
            ny = min(max(y + step * math.sin(headings[i]), 40.0), 120.0)
            driver.move(f"c{i}", nx, ny)
        driver.tick()
        positions = {i + 1: driver.position(f"c{i}") for i in range(count)}
        for i in range(count):
            seen = driver.sim.visible_entity_ids(f"c{i}")
            mine = positions[i + 1]
            for other, where in positions.items():
                distance = math.dist(mine, where)
                if other == i + 1:
                    assert other not in seen
                elif distance <= surely_seen:
                    assert other in seen, (i, other, distance)
                elif distance > never_seen:
                    assert other not in seen, (i, other, distance)
    assert repairs == []  # walking, at 20 Hz or 10 Hz, never re-pairs anyone


def count_repairs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Slots each tick re-pairs (the AOI's expensive path), recorded from every zone."""
    repaired: list[int] = []
    update = ZoneSim.update_interest

    def recording(zone: ZoneSim, tick: int) -> InterestDelta:
        repaired.extend(np.flatnonzero(zone.repair).tolist())
        return update(zone, tick)

    monkeypatch.setattr(ZoneSim, "update_interest", recording)
    return repaired


def test_a_burst_of_bunched_moves_is_re_paired_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    driver = small_view()
    driver.join("me", 1, "alpha", 60.0, 60.0)
    driver.tick()
    repairs = count_repairs(monkeypatch)
    driver.move("me", 60.5, 60.0)
    driver.tick()
    driver.move("me", 61.0, 60.0)  # 1.0 tile over two ticks: past the two-tick bound (0.66)
    driver.tick()

    assert driver.position("me") == (61.0, 60.0)  # both moves were valid
    assert len(repairs) == 1  # the second tick's, and only for "me"
