"""Data structures behind the bulk frame assembly (ADR 0024): the upd row renderer."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.worlds.test_sim_helpers import Driver, frame_of, open_zone
from worlds.sim.frames import EnterRowTable, RecordRenderer


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


def _texts(table: EnterRowTable, slots: list[int], texts: dict[int, bytes]) -> list[bytes]:
    rows, counts = table.rows(np.array(slots, np.int64), 8, texts.__getitem__)
    flat = rows.reshape(-1).tobytes()
    out, at = [], 0
    for count in counts.tolist():
        out.append(flat[at : at + count * 8].rstrip(b" "))
        at += count * 8
    return out


def test_enter_row_table_renders_once_until_forgotten() -> None:
    table = EnterRowTable()
    texts = {1: b',{"id":1}', 2: b',{"id":2,"name":"long enough"}', 5: b",{}"}
    rendered: list[int] = []

    def text_of(slot: int) -> bytes:
        rendered.append(slot)
        return texts[slot]

    rows, counts = table.rows(np.array([5, 1, 2]), 8, text_of)
    assert counts.tolist() == [1, 2, 4] and rows.shape == (7, 8)
    assert sorted(rendered) == [1, 2, 5]
    assert _texts(table, [2, 5], texts) == [texts[2], texts[5]]
    rendered.clear()
    table.rows(np.array([1, 2, 5]), 8, text_of)
    assert rendered == []  # cached
    texts[2] = b',{"id":2}'
    table.forget(2)
    assert _texts(table, [1, 2], texts) == [texts[1], texts[2]]


def test_enter_row_table_compacts_garbage_and_resets_on_a_new_width() -> None:
    table = EnterRowTable()
    texts = {slot: b',{"id":%d,"pad":"xxxxxxxx"}' % slot for slot in range(50)}
    table.rows(np.arange(50), 8, texts.__getitem__)
    for round_ in range(6):  # churn: forget and re-render most slots, garbage builds up
        for slot in range(0, 50, 1 + round_ % 2):
            texts[slot] = b',{"id":%d,"r":%d}' % (slot, round_)
            table.forget(slot)
        assert _texts(table, list(range(50)), texts) == [texts[s] for s in range(50)]
    assert table.used <= 2 * sum(-(-len(text) // 8) for text in texts.values())
    rows, counts = table.rows(np.array([3]), 16, texts.__getitem__)
    assert table.width == 16 and rows.shape == (int(counts[0]), 16)
    assert rows.reshape(-1).tobytes().rstrip(b" ") == texts[3]
