"""A shard lets go of characters it no longer owns: one claimed by another shard since it
entered here (its save was refused), and the seats of a gateway process that went silent
(killed: no Detach will ever come), which start the reconnect grace like closed sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import pytest

from tests.chat.test_history_writer import GATEWAY, ChatWrites, MemoryCharacterStore, World
from worlds.runtime.messages import Attach, Intent
from worlds.runtime.runner import GATEWAY_SILENCE_LIMIT_SECONDS, ShardRunner
from worlds.sim.entities import PlayerState

OTHER_GATEWAY = "gw-other"


class ClaimedElsewhereStore(MemoryCharacterStore):
    """Refuses saves of the characters in ``claimed`` (another shard has them now)."""

    def __init__(self) -> None:
        self.claimed: set[int] = set()
        self.saved: list[tuple[int, bool]] = []
        self._lost: list[int] = []

    def save_states(self, states: Iterable[PlayerState], *, logout: bool = False) -> int:
        written = 0
        for state in states:
            if state.character_id in self.claimed:
                self._lost.append(state.character_id)
            else:
                self.saved.append((state.character_id, logout))
                written += 1
        return written

    def take_lost(self) -> list[int]:
        lost, self._lost = self._lost, []
        return lost


@pytest.fixture
async def world() -> World:
    world = World(ChatWrites())
    world.runner.store = ClaimedElsewhereStore()  # type: ignore[assignment]
    await world.enter(7)
    await world.enter(8)
    return world


def _store(runner: ShardRunner) -> ClaimedElsewhereStore:
    store = runner.store
    assert isinstance(store, ClaimedElsewhereStore)
    return store


def _step(world: World, character_id: int, seq: int) -> Intent:
    start = world.runner.sim.snapshot_player(f"ch{character_id}")
    frame = {"t": "move", "seq": seq, "x": start.x + 0.25, "y": start.y, "ct": 10_000.0 + seq}
    return Intent(f"{GATEWAY}/c{character_id}", json.dumps(frame))


def _closes(runner: ShardRunner, gateway: str = GATEWAY) -> list[tuple[str, int, Any]]:
    controls = runner.pending_controls.get(gateway, [])
    return [
        (c.conn_id, c.code, json.loads(c.payload)["code"]) for c in controls if c.kind == "close"
    ]


async def test_a_character_claimed_by_another_shard_is_dropped_unsaved_and_its_socket_closed(
    world: World,
) -> None:
    runner, store = world.runner, _store(world.runner)
    runner.receive(GATEWAY, [_step(world, 7, 1), _step(world, 8, 1)])
    await world.tick()
    store.claimed = {7}

    await runner.flush_now()

    assert not runner.sim.has_player("ch7") and "ch7" not in runner.seats
    assert f"{GATEWAY}/c7" not in runner.key_by_conn
    assert _closes(runner) == [(f"{GATEWAY}/c7", 4002, "session_taken_over")]
    assert runner.sim.has_player("ch8") and store.saved == [(8, False)]
    # this shard never writes it again, not even as a logout after a grace
    store.claimed.clear()
    late = '{"t": "move", "seq": 2, "x": 1.0, "y": 1.0, "ct": 10002.0}'
    runner.receive(GATEWAY, [Intent(f"{GATEWAY}/c7", late)])  # from the closed socket
    world.now += 60
    await world.tick()
    await runner.flush_now()
    assert all(character_id != 7 for character_id, _ in store.saved)


async def test_seats_of_a_silent_gateway_start_their_grace_and_are_saved_when_it_ends(
    world: World,
) -> None:
    runner, store = world.runner, _store(world.runner)
    runner.receive(OTHER_GATEWAY, [Attach(f"{OTHER_GATEWAY}/c9", 9, 1, 1, "json")])
    for _ in range(100):
        await world.tick()
        if runner.sim.has_player("ch9"):
            break
        await _yield()
    runner._heard_from[GATEWAY] = time.monotonic() - GATEWAY_SILENCE_LIMIT_SECONDS - 1

    runner.detach_silent_gateways(world.now)

    for key in ("ch7", "ch8"):
        assert runner.seats[key].conn_id is None and runner.seats[key].dropped_at == world.now
    assert sorted(_closes(runner)) == [
        (f"{GATEWAY}/c7", 4006, "shard_unavailable"),
        (f"{GATEWAY}/c8", 4006, "shard_unavailable"),
    ]
    assert runner.seats["ch9"].conn_id == f"{OTHER_GATEWAY}/c9"  # its gateway is alive
    world.now += runner.config.reconnect_grace
    await world.tick()
    await _yield()
    assert "ch7" not in runner.seats and not runner.sim.has_player("ch8")
    assert sorted(store.saved) == [(7, True), (8, True)]
    assert runner.sim.has_player("ch9")


async def test_a_keepalive_keeps_an_idle_gateways_players_in_the_world(world: World) -> None:
    runner = world.runner
    runner._heard_from[GATEWAY] = time.monotonic() - GATEWAY_SILENCE_LIMIT_SECONDS - 1

    runner.receive(GATEWAY, [])  # the gateway's keepalive: an empty batch
    runner.detach_silent_gateways(world.now)

    assert runner.seats["ch7"].conn_id == f"{GATEWAY}/c7" and not _closes(runner)


async def _yield() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_a_load_waits_for_the_shards_pending_writes(world: World) -> None:
    # A logout save of a character whose grace just ended may still be queued when the player
    # comes back: the reload must claim the row only after that save has landed.
    runner = world.runner
    async with runner._db_lock:  # a write in progress
        runner.receive(GATEWAY, [Attach(f"{GATEWAY}/c9", 9, 1, 1, "json")])
        await world.tick()
        await _yield()
        assert not runner.sim.has_player("ch9")
    for _ in range(100):
        await world.tick()
        if runner.sim.has_player("ch9"):
            break
        await _yield()
    assert runner.sim.has_player("ch9")
