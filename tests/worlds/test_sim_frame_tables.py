"""Data structures behind the bulk frame assembly (ADR 0024): the upd row renderer."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.worlds.test_sim_helpers import Driver, frame_of, open_zone
from worlds.sim.frames import RecordRenderer


def _parse_rows(rows: np.ndarray) -> list[list[float]]:
    return [orjson.loads(bytes(row)[1:]) for row in rows]


@pytest.mark.parametrize("side", [128, 1024])
def test_json_rows_render_id_position_and_facing(side: int) -> None:
    renderer = RecordRenderer(side, side)
    renderer.grow(4)
    for slot, entity_id in enumerate([7, 12345, 3, 99]):
        renderer.set_entity_id(slot, entity_id)
    xs = np.array([0.0, side - 0.01, 12.345, 5.5])
    ys = np.array([side - 0.01, 0.0, 7.0, 1.004])
    facing = np.array([0, 7, 3, 4])
    rows = renderer.json_rows(xs, ys, facing)
    assert len({row.tobytes()[:1] for row in rows}) == 1  # every row starts with a comma
    expected_12_35 = round(12.345 * 100) / 100  # rounded like np.rint(x * 100)
    assert _parse_rows(rows) == [
        [7, 0.0, side - 0.01, 0],
        [12345, side - 0.01, 0.0, 7],
        [3, expected_12_35, 7.0, 3],
        [99, 5.5, 1.0, 4],
    ]


def test_json_rows_rewrite_only_changed_slots_and_keep_the_others() -> None:
    renderer = RecordRenderer(1024, 1024)
    renderer.grow(6)
    for slot in range(6):
        renderer.set_entity_id(slot, slot + 1)
    xs = np.arange(6, dtype=np.float64) + 10
    ys = np.arange(6, dtype=np.float64) + 20
    facing = np.zeros(6, np.int64)
    renderer.json_rows(xs, ys, facing)
    xs2, ys2 = xs + 0.5, ys + 0.25
    for changed_slots in ([1, 4], [0, 1, 2, 3]):  # sparse (scatter) and dense (prefix)
        changed = np.zeros(6, np.bool_)
        changed[changed_slots] = True
        rows = _parse_rows(renderer.json_rows(xs2, ys2, facing + 2, changed))
        for slot in changed_slots:
            assert rows[slot] == [slot + 1, xs2[slot], ys2[slot], 2]
    # Slot 5 never changed: its row still holds the first rendering.
    assert rows[5] == [6, 15.0, 25.0, 0]


def test_positions_from_ticks_without_json_clients_reach_a_later_json_client() -> None:
    driver = Driver.create([open_zone(1000)])
    driver.join("walker", 1, "alpha", 50.0, 50.0, encoding="msgpack")
    driver.join("viewer", 2, "alpha", 52.0, 52.0, encoding="json")
    driver.tick()  # JSON rows rendered
    driver.sim.detach("viewer")
    for step in range(1, 6):  # no attached JSON client: no JSON rows rendered in these ticks
        driver.move("walker", 50.0 + step * 0.2, 50.0)
        driver.tick()
    driver.sim.rebind("viewer", "viewer2", encoding="json")
    frame = frame_of(driver.tick(), "viewer2")  # everything it sees enters again
    assert frame is not None
    assert [row[1:3] for row in frame["upd"] if row[0] == 1] == [[51.0, 50.0]]
