"""Ops hooks on a live embedded world: the safety-net flush task saves in-memory state at once;
the WebSocket connection gauge follows connections."""

from __future__ import annotations

import asyncio

import pytest

from liveops.tasks import flush_world_state_safety_net
from mmo_platform import metrics
from tests.e2e.conftest import LiveWorld
from tests.e2e.test_world_e2e import enter, make_player, town_spawn, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def live_world_settings() -> dict[str, object]:
    # A flush interval no test outlives: only the ops task can have saved the move.
    return {"WORLD_FLUSH_INTERVAL_SECONDS": 3600.0, "WORLD_RECONNECT_GRACE_SECONDS": 30.0}


@pytest.fixture
def shard() -> None:
    from tests.characters.factories import RealmFactory, ShardFactory

    ShardFactory(realm=RealmFactory(slug="e2e"), name="e2e-1", capacity=50)


def connections() -> float:
    return metrics.WS_CONNECTIONS.labels(kind="embedded")._value.get()


def test_safety_net_task_flushes_the_world_now(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    before = connections()

    async def scenario() -> None:
        a = await enter(live_world, alice)
        assert connections() == before + 1
        me = a.welcome["you"]  # type: ignore[index]
        seq = await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=1000.0, cid=me["cor"])
        await wait_until(lambda: a.acked >= seq)
        await asyncio.sleep(0.1)
        await asyncio.to_thread(flush_world_state_safety_net.apply().get)
        await a.close()
        await wait_until(lambda: connections() == before)

    asyncio.run(scenario())
    alice.refresh_from_db()
    assert alice.x == pytest.approx(town_spawn()[0] + 0.25, abs=0.01)


def test_chat_messages_are_counted(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    counter = metrics.CHAT_MESSAGES.labels(channel="say")
    before = counter._value.get()

    async def scenario() -> None:
        a = await enter(live_world, alice)
        seq = await a.send("chat", channel="say", text="hello world")
        await wait_until(lambda: a.acked >= seq)
        await a.close()

    asyncio.run(scenario())
    assert counter._value.get() == before + 1
