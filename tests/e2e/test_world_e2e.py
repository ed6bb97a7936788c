"""End to end over real sockets: portal API login → join → WebSocket world, with the bot client.

Each test runs a real uvicorn server (tests/e2e/conftest.py) with the embedded world.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from characters.models import Character
from mmo_client import PlatformAPI, WorldClient
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.e2e.conftest import LiveWorld
from tests.factories import DEFAULT_PASSWORD, UserFactory
from worlds.content import get_zone_maps

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def town_spawn() -> tuple[float, float]:
    spawn = get_zone_maps()["town"].spawn_points["default"]
    return spawn.x, spawn.y


def make_player(name: str, *, dx: float = 0.0, realm_slug: str = "e2e") -> Character:
    x, y = town_spawn()
    user = UserFactory(username=name.lower())
    realm = RealmFactory(slug=realm_slug)
    return CharacterFactory(account=user, realm=realm, name=name, zone="town", x=x + dx, y=y)


@pytest.fixture
def shard() -> None:
    ShardFactory(realm=RealmFactory(slug="e2e"), name="e2e-1", capacity=50)


async def enter(world: LiveWorld, character: Character, **client_options: Any) -> WorldClient:
    api = PlatformAPI(world.base_url)
    try:
        await api.login(character.account.username, DEFAULT_PASSWORD)
        ticket = await api.join(character.pk)
    finally:
        await api.close()
    client = WorldClient(
        PlatformAPI(world.base_url).ws_url(ticket), ticket.ticket, **client_options
    )
    await client.connect()
    return client


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def seen_entities(client: WorldClient) -> dict[int, dict[str, Any]]:
    return client.seen  # type: ignore[attr-defined, no-any-return]


def track_entities(client: WorldClient) -> None:
    """Keep the client's view of other entities (enter/upd/leave) in ``client.seen``."""
    seen: dict[int, dict[str, Any]] = {}
    client.seen = seen  # type: ignore[attr-defined]

    def on_frame(frame: dict[str, Any]) -> None:
        for entity in frame.get("enter", ()) or ():
            seen[entity["id"]] = dict(entity)
        for update in frame.get("upd", ()) or ():
            seen.setdefault(update[0], {}).update({"x": update[1], "y": update[2]})
        for entity_id in frame.get("leave", ()) or ():
            seen.pop(entity_id, None)

    client.on_frame = on_frame


def test_two_players_see_each_other_move(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    bob = make_player("Bob", dx=2.0)

    async def scenario() -> None:
        a = await enter(live_world, alice)
        b = await enter(live_world, bob)
        track_entities(b)
        me = a.welcome["you"]  # type: ignore[index]
        await wait_until(lambda: me["id"] in seen_entities(b))
        start_x = seen_entities(b)[me["id"]].get("x")
        await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=1000.0, cid=me.get("cor", 0))
        await wait_until(lambda: seen_entities(b)[me["id"]].get("x") != start_x)
        assert seen_entities(b)[me["id"]]["x"] == pytest.approx(me["x"] + 0.25, abs=0.01)
        await a.close()
        await b.close()

    asyncio.run(scenario())
