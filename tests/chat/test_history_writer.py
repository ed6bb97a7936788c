"""The shard runner's chat history writer, driven through the runner's own tick with in-memory
stores: accepted lines are written in batches off the loop, kept when a write fails, bounded when
the database stays down, and written at shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import OperationalError

from chat.services import ChatLine
from mmo_platform import metrics
from worlds.content import get_zone_maps
from worlds.runtime.messages import Attach, Intent, ShardBatch
from worlds.runtime.runner import RunnerConfig, ShardRunner
from worlds.sim.entities import PlayerState

GATEWAY = "gw-test"


class NullOutbox:
    async def publish(self, gateway_id: str, batch: ShardBatch) -> None:
        return None

    async def publish_many(self, batches: dict[str, ShardBatch]) -> None:
        return None


class MemoryCharacterStore:
    """Hands out characters standing at the town spawn; saves nothing."""

    def load_for_entry(
        self, *, character_id: int, account_id: int, owned_zones: set[str], transfer_token: Any
    ) -> PlayerState:
        spawn = get_zone_maps()["town"].spawn_points["default"]
        return PlayerState(character_id, f"Hero{character_id}", "town", spawn.x, spawn.y)

    def save_states(self, states: Iterable[PlayerState], *, logout: bool = False) -> int:
        return len(list(states))

    def take_lost(self) -> list[int]:
        return []

    def effective_max_hp(self, *, character_id: int) -> int:
        return 100

    def hand_off(self, **kwargs: Any) -> tuple[str, str]:
        raise AssertionError("no hand-off in these tests")

    def heartbeat(self, **kwargs: Any) -> None:
        return None


class ChatWrites:
    """The chat history store: records each batch; can be told to fail the next writes."""

    def __init__(self) -> None:
        self.batches: list[list[ChatLine]] = []
        self.failures_left = 0

    def __call__(self, lines: Sequence[ChatLine]) -> int:
        if self.failures_left:
            self.failures_left -= 1
            raise OperationalError("could not connect to server")
        self.batches.append(list(lines))
        return len(lines)

    @property
    def texts(self) -> list[str]:
        return [line.text for batch in self.batches for line in batch]


class World:
    def __init__(self, writes: ChatWrites) -> None:
        config = RunnerConfig(name="chat-shard", realm="chat-realm", chat_flush_interval=1.0)
        self.runner = ShardRunner(
            config=config,
            zone_maps=dict(get_zone_maps()),
            owned_zones={"town"},
            outbox=NullOutbox(),
            store=MemoryCharacterStore(),  # type: ignore[arg-type]
            chat_write=writes,
        )
        self.now = 1000.0  # the sim clock: unrelated to the wall clock on purpose
        self.seq: dict[int, int] = {}

    async def enter(self, character_id: int) -> None:
        self.runner.receive(GATEWAY, [Attach(self._conn(character_id), character_id, 1, 1, "json")])
        await self.tick()  # starts the load (worker thread)
        for _ in range(500):
            if self.runner.sim.has_player(f"ch{character_id}"):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"character {character_id} was not loaded")
        await self.tick()

    async def say(self, character_id: int, text: str, channel: str = "say") -> None:
        self.seq[character_id] = self.seq.get(character_id, 0) + 1
        frame = {"t": "chat", "seq": self.seq[character_id], "ch": channel, "text": text}
        self.runner.receive(GATEWAY, [Intent(self._conn(character_id), json.dumps(frame))])

    async def tick(self) -> None:
        self.now += 0.05
        await self.runner.tick(self.now)

    @staticmethod
    def _conn(character_id: int) -> str:
        return f"{GATEWAY}/c{character_id}"


@pytest.fixture
def writes() -> ChatWrites:
    return ChatWrites()


@pytest.fixture
async def world(writes: ChatWrites) -> World:
    world = World(writes)
    await world.enter(7)
    await world.enter(8)
    return world


async def settle(world: World) -> None:
    """Wait for the write the buffer started in the background, if any."""
    task = world.runner.chat_history._task
    if task is not None:
        await task


async def test_accepted_lines_are_written_together_in_one_batch(
    world: World, writes: ChatWrites
) -> None:
    # given three lines over two ticks
    before = time.time()
    await world.say(7, "hello")
    await world.say(8, "hi there", channel="zone")
    await world.tick()
    await world.say(7, "how are you")
    await world.tick()
    assert writes.batches == []  # nothing written inside the tick
    # when the loop offers a flush
    world.runner.chat_history.maybe_flush(time.monotonic())
    await settle(world)
    # then: one batch, in the order said, with everything the history needs
    assert len(writes.batches) == 1
    first, second, third = writes.batches[0]
    assert [first.text, second.text, third.text] == ["hello", "hi there", "how are you"]
    assert (first.character_id, first.sender_name, first.channel) == (7, "Hero7", "say")
    assert (second.character_id, second.sender_name, second.channel) == (8, "Hero8", "zone")
    assert {line.zone for line in writes.batches[0]} == {"town"}
    assert {(line.realm, line.shard) for line in writes.batches[0]} == {
        ("chat-realm", "chat-shard")
    }
    # the sim clock (1000 s) became wall time
    for line in writes.batches[0]:
        assert line.sent_at.tzinfo is not None
        assert before - 1 <= line.sent_at.timestamp() <= time.time() + 1
    assert world.runner.chat_history.pending == 0


async def test_no_write_before_the_interval_unless_a_batch_is_full(
    world: World, writes: ChatWrites
) -> None:
    history = world.runner.chat_history
    await world.say(7, "first")
    await world.tick()
    history.maybe_flush(time.monotonic())
    await settle(world)
    assert writes.texts == ["first"]
    # within the interval a single line waits ...
    await world.say(7, "second")
    await world.tick()
    history.maybe_flush(time.monotonic())
    await settle(world)
    assert writes.texts == ["first"]
    # ... but a full batch goes at once, and a backlog is split into batches
    history.batch_size = 2
    await world.say(8, "third")
    await world.say(7, "fourth")
    await world.tick()
    history.maybe_flush(time.monotonic())
    await settle(world)
    assert [[line.text for line in batch] for batch in writes.batches] == [
        ["first"],
        ["second", "third"],
        ["fourth"],
    ]


async def test_a_failed_write_keeps_the_lines_and_a_later_write_stores_them_in_order(
    world: World, writes: ChatWrites, caplog: pytest.LogCaptureFixture
) -> None:
    history = world.runner.chat_history
    writes.failures_left = 1
    await world.say(7, "one")
    await world.say(8, "two")
    await world.tick()
    # when the database is down
    assert await history.flush() == 0
    # then nothing is lost, and the failure is logged
    assert history.pending == 2
    assert "chat history write failed" in caplog.text
    # the next write backs off instead of hammering the database every tick, even with a full
    # batch waiting
    history.batch_size = 2
    history.maybe_flush(time.monotonic())
    assert history._task is None or history._task.done()
    # when it answers again
    await world.say(7, "three")
    await world.tick()
    assert await history.flush() == 3
    # then everything is written, oldest first
    assert writes.texts == ["one", "two", "three"]
    assert [len(batch) for batch in writes.batches] == [2, 1]
    assert history.pending == 0


async def test_the_buffer_is_bounded_while_the_database_stays_down(
    world: World, writes: ChatWrites, caplog: pytest.LogCaptureFixture
) -> None:
    history = world.runner.chat_history
    history.max_pending = 3
    dropped = metrics.CHAT_HISTORY_DROPPED.labels(shard="chat-shard")
    dropped_before = dropped._value.get()
    writes.failures_left = 100
    for number in range(5):
        await world.say(7 + number % 2, f"line {number}")
        await world.tick()
        await history.flush()
    # the oldest lines went; the shard holds at most max_pending
    assert history.pending == 3
    assert dropped._value.get() == dropped_before + 2
    assert "chat history buffer full" in caplog.text
    writes.failures_left = 0
    await history.flush()
    assert writes.texts == ["line 2", "line 3", "line 4"]


async def test_shutdown_writes_what_is_pending(world: World, writes: ChatWrites) -> None:
    await world.say(7, "goodbye")
    await world.tick()
    await world.runner.stop()
    assert writes.texts == ["goodbye"]


async def test_only_accepted_lines_are_counted_by_channel(world: World) -> None:
    say = metrics.CHAT_MESSAGES.labels(channel="say")
    zone = metrics.CHAT_MESSAGES.labels(channel="zone")
    say_before, zone_before = say._value.get(), zone._value.get()
    await world.say(7, "counted")
    await world.say(8, "counted too", channel="zone")
    world.runner.receive(
        GATEWAY, [Intent(World._conn(7), json.dumps({"t": "chat", "seq": 1, "text": "stale seq"}))]
    )
    await world.tick()
    assert say._value.get() == say_before + 1
    assert zone._value.get() == zone_before + 1
    assert world.runner.chat_history.pending == 2


def test_sent_at_is_the_wall_clock_of_the_tick() -> None:
    from worlds.runtime.chat_history import ChatHistoryBuffer
    from worlds.sim.entities import ChatRecord

    buffer = ChatHistoryBuffer(realm="r", shard="s", write=ChatWrites())
    records = [ChatRecord(1, "town", "say", "now", 50.0), ChatRecord(1, "town", "say", "x", 48.0)]
    before = datetime.now(tz=UTC).timestamp()
    buffer.add_records(records, tick_now=50.0, sender_name=lambda _: "A")
    stamped = [line.sent_at.timestamp() for line in buffer._pending]
    assert before - 0.5 <= stamped[0] <= before + 0.5
    assert stamped[0] - stamped[1] == pytest.approx(2.0, abs=0.001)
