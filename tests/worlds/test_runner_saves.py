"""A failed logout save is kept for the next flush, never dropped."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import OperationalError

from tests.chat.test_history_writer import MemoryCharacterStore, NullOutbox
from worlds.content import get_zone_maps
from worlds.runtime.runner import RunnerConfig, ShardRunner
from worlds.sim.entities import PlayerState


class FlakyStore(MemoryCharacterStore):
    def __init__(self) -> None:
        self.failures_left = 1
        self.saved: list[PlayerState] = []

    def save_states(self, states: Iterable[PlayerState], *, logout: bool = False) -> int:
        if self.failures_left:
            self.failures_left -= 1
            raise OperationalError("could not connect to server")
        self.saved.extend(states)
        return len(self.saved)


async def test_a_logout_save_that_fails_is_written_by_the_next_flush() -> None:
    store = FlakyStore()
    runner = ShardRunner(
        config=RunnerConfig(name="save-shard", realm="save-realm"),
        zone_maps=dict(get_zone_maps()),
        owned_zones={"town"},
        outbox=NullOutbox(),
        store=store,  # type: ignore[arg-type]
    )
    state = PlayerState(7, "Hero7", "town", 10.0, 12.0)

    await runner._write_states([state], logout=True)  # the database is down
    assert store.saved == []

    await runner.flush_now()
    assert store.saved == [state]
