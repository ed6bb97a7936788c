"""Scripted behaviours (mmo_client.behaviours) against the real server over real sockets: the
server accepts every step (no correction, no error) and other players see where they lead."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from mmo_client import WorldClient, follow, walker_for, wander
from tests.e2e.conftest import LiveWorld
from tests.e2e.test_world_e2e import enter, make_player, shard, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

__all__ = ["shard"]  # the fixture, used by name


def seen_at(viewer: WorldClient, entity_id: int) -> tuple[float, float] | None:
    entity = viewer.entities.get(entity_id, {})
    return (entity["x"], entity["y"]) if "x" in entity else None


def test_a_wanderer_walks_about_without_a_single_correction(
    shard: None, live_world: LiveWorld
) -> None:
    wanderer = make_player("Wanda")
    watcher = make_player("Watcher", dx=-3.0)

    async def scenario() -> None:
        w = await enter(live_world, wanderer)
        v = await enter(live_world, watcher, track_entities=True)
        start = (w.welcome["you"]["x"], w.welcome["you"]["y"])  # type: ignore[index]
        walker = await wander(w, seconds=2.0, rng=random.Random(5), radius=4.0, pause=0.3)
        assert walker.corrections == 0
        assert w.errors == [] and v.errors == []
        assert walker.moves_sent >= 5 and walker.distance_walked >= 2.0
        assert math.dist(start, (walker.x, walker.y)) <= 4.0 * math.sqrt(2) + 0.01
        # The server took every step: others see the wanderer where it believes it stands.
        here = (walker.x, walker.y)
        await wait_until(lambda: seen_at(v, walker_id(w)) == pytest.approx(here, abs=0.01))
        await w.close()
        await v.close()

    asyncio.run(scenario())


def test_a_follower_catches_up_with_a_wandering_leader(shard: None, live_world: LiveWorld) -> None:
    leader = make_player("Leader")
    follower = make_player("Follower", dx=4.0)

    async def scenario() -> None:
        lead = await enter(live_world, leader, track_entities=True)
        tail = await enter(live_world, follower, track_entities=True)
        leader_id, follower_id = walker_id(lead), walker_id(tail)
        await wait_until(lambda: seen_at(tail, leader_id) is not None)
        stop_following = asyncio.Event()
        following = asyncio.create_task(follow(tail, leader_id, until=stop_following))
        leading = await wander(lead, seconds=3.0, rng=random.Random(2), radius=5.0, pause=0.2)
        behind = walker_for(tail)

        def gap() -> float:
            return math.dist((leading.x, leading.y), (behind.x, behind.y))

        await wait_until(lambda: gap() <= 2.0)
        stop_following.set()
        await following
        assert gap() <= 2.0
        assert behind.distance_walked >= 2.0  # it started 4 tiles away
        assert (leading.corrections, behind.corrections) == (0, 0)
        assert lead.errors == [] and tail.errors == []
        # The leader sees the follower where the follower believes it stands.
        here = (behind.x, behind.y)
        await wait_until(lambda: seen_at(lead, follower_id) == pytest.approx(here, abs=0.01))
        await lead.close()
        await tail.close()

    asyncio.run(scenario())


def walker_id(client: WorldClient) -> int:
    assert client.welcome is not None
    return int(client.welcome["you"]["id"])
