"""The shard runner takes client intents as they arrive, between ticks (ADR 0053): decoded and
queued in the sim at once, applied by the next tick, and never ahead of an attach, detach or
refresh that arrived before them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.chat.test_history_writer import GATEWAY, ChatWrites, World
from worlds.runtime.messages import Attach, Detach, Intent


def move(character_id: int, seq: int, x: float, y: float, ct: float) -> Intent:
    frame = {"t": "move", "seq": seq, "x": x, "y": y, "ct": ct}
    return Intent(f"{GATEWAY}/c{character_id}", json.dumps(frame))


@pytest.fixture
async def world() -> World:
    world = World(ChatWrites())
    await world.enter(7)
    await world.enter(8)
    return world


async def test_a_move_is_queued_in_the_sim_on_arrival_and_applied_by_the_next_tick(
    world: World,
) -> None:
    runner = world.runner
    start = runner.sim.snapshot_player("ch7")
    runner.receive(GATEWAY, [move(7, 1, start.x + 0.25, start.y, 10_000.0)])
    assert not runner.inbox  # nothing left for the tick to decode
    assert runner.sim.snapshot_player("ch7").x == start.x  # not applied before the tick
    await world.tick()
    assert runner.sim.snapshot_player("ch7").x == pytest.approx(start.x + 0.25)


async def test_a_stale_sequence_number_is_dropped_on_arrival(world: World) -> None:
    runner = world.runner
    start = runner.sim.snapshot_player("ch7")
    runner.receive(GATEWAY, [move(7, 5, start.x + 0.25, start.y, 10_000.0)])
    runner.receive(GATEWAY, [move(7, 5, start.x + 0.5, start.y, 10_050.0)])
    await world.tick()
    assert runner.sim.cheat_counters("ch7")["stale_seq"] == 1
    assert runner.sim.snapshot_player("ch7").x == pytest.approx(start.x + 0.25)


async def test_a_connections_intents_behind_its_attach_wait_others_are_taken_at_once(
    world: World,
) -> None:
    runner = world.runner
    start = runner.sim.snapshot_player("ch8")
    attach = Attach(f"{GATEWAY}/c9", 9, 1, 1, "json")
    behind_attach = move(9, 1, 1.0, 1.0, 10_000.0)
    runner.receive(
        GATEWAY,
        [move(8, 1, start.x + 0.25, start.y, 10_000.0), attach, behind_attach],
    )
    runner.receive(GATEWAY, [move(8, 2, start.x + 0.5, start.y, 10_050.0)])
    later = move(9, 2, 1.0, 1.0, 10_050.0)
    runner.receive(GATEWAY, [later])
    # the attaching connection's intents wait, in order; the other player's were taken
    assert list(runner.inbox) == [attach, behind_attach, later]
    await world.tick()
    assert not runner.inbox
    assert runner.sim.cheat_counters("ch8")["stale_seq"] == 0
    assert runner.sim.snapshot_player("ch8").x == pytest.approx(start.x + 0.5)
    # after the tick nothing is held: the next intents are taken at once again
    runner.receive(GATEWAY, [move(8, 3, start.x + 0.75, start.y, 10_100.0)])
    assert not runner.inbox


async def test_an_intent_arriving_after_its_detach_is_not_applied(world: World) -> None:
    runner = world.runner
    start = runner.sim.snapshot_player("ch7")
    runner.receive(GATEWAY, [Detach(f"{GATEWAY}/c7", "closed")])
    runner.receive(GATEWAY, [move(7, 1, start.x + 0.25, start.y, 10_000.0)])
    await world.tick()
    assert runner.key_by_conn.get(f"{GATEWAY}/c7") is None
    assert runner.sim.snapshot_player("ch7").x == start.x


async def test_an_intent_that_fails_is_logged_and_the_rest_of_the_batch_is_taken(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.runner
    submit = runner.sim.submit
    start = runner.sim.snapshot_player("ch8")

    def fail_for_seven(conn_id: str, intent: Any, now: float | None = None) -> bool:
        if conn_id == "ch7":
            raise RuntimeError("a bug in one intent")
        return submit(conn_id, intent, now)

    monkeypatch.setattr(runner.sim, "submit", fail_for_seven)
    runner.receive(
        GATEWAY, [move(7, 1, 1.0, 1.0, 10_000.0), move(8, 1, start.x + 0.25, start.y, 10_000.0)]
    )
    assert "intent from gw-test/c7 failed" in caplog.text
    await world.tick()
    assert runner.sim.snapshot_player("ch8").x == pytest.approx(start.x + 0.25)


async def test_after_stop_begins_arrivals_are_only_queued(world: World) -> None:
    runner = world.runner
    start = runner.sim.snapshot_player("ch7")
    runner._stopping.set()
    item = move(7, 1, start.x + 0.25, start.y, 10_000.0)
    runner.receive(GATEWAY, [item])
    assert list(runner.inbox) == [item]


async def test_an_intent_for_a_seat_already_handed_off_is_dropped_quietly(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.runner
    del runner.seats["ch7"]  # as a hand-off in flight leaves it, whatever the order of clean-up
    runner.receive(GATEWAY, [move(7, 1, 1.0, 1.0, 10_000.0)])
    assert "failed" not in caplog.text
    assert not runner.inbox


async def test_a_queued_item_that_fails_costs_neither_the_tick_nor_the_items_behind_it(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.runner

    def broken_attach(item: Attach) -> None:
        raise RuntimeError("a bug in the attach")

    monkeypatch.setattr(runner, "_begin_attach", broken_attach)
    runner.receive(
        GATEWAY, [Attach(f"{GATEWAY}/c9", 9, 1, 1, "json"), Detach(f"{GATEWAY}/c8", "closed")]
    )
    await world.tick()  # does not raise
    assert "Attach from gw-test/c9 failed" in caplog.text
    assert f"{GATEWAY}/c8" not in runner.key_by_conn  # the detach behind it was applied
