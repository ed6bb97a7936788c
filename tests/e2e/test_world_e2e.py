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
    return client.entities


def test_two_players_see_each_other_move(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    bob = make_player("Bob", dx=2.0)

    async def scenario() -> None:
        a = await enter(live_world, alice)
        b = await enter(live_world, bob, track_entities=True)
        me = a.welcome["you"]  # type: ignore[index]
        # An entity's position arrives in ``upd`` (possibly the tick after its ``enter``).
        await wait_until(lambda: "x" in seen_entities(b).get(me["id"], {}))
        start_x = seen_entities(b)[me["id"]]["x"]
        await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=1000.0, cid=me.get("cor", 0))
        await wait_until(lambda: seen_entities(b)[me["id"]].get("x") != start_x)
        assert seen_entities(b)[me["id"]]["x"] == pytest.approx(me["x"] + 0.25, abs=0.01)
        await a.close()
        await b.close()

    asyncio.run(scenario())


def test_impossible_move_is_rejected_with_a_correction(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        me = a.welcome["you"]  # type: ignore[index]
        corrections: list[dict[str, Any]] = []
        a.on_frame = lambda frame: corrections.append(frame["you"]) if "you" in frame else None
        seq = await a.send("move", x=me["x"] + 15.0, y=me["y"], ct=1000.0, cid=me["cor"])
        await wait_until(lambda: bool(corrections) and a.acked >= seq)
        correction = corrections[-1]
        assert correction["cor"] > me["cor"]
        assert (correction["x"], correction["y"]) == (me["x"], me["y"])
        await a.close()

    asyncio.run(scenario())


def test_far_player_is_not_sent(shard: None, live_world: LiveWorld) -> None:
    near = make_player("Nearby", dx=1.0)
    far_user = UserFactory(username="faraway")
    field_spawn = get_zone_maps()["field"].spawn_points["default"]
    far = CharacterFactory(
        account=far_user,
        realm=near.realm,
        name="Faraway",
        zone="field",
        x=field_spawn.x,
        y=field_spawn.y,
    )
    viewer = make_player("Viewer")

    async def scenario() -> None:
        n = await enter(live_world, near)
        f = await enter(live_world, far)
        v = await enter(live_world, viewer, track_entities=True)
        await wait_until(lambda: n.welcome["you"]["id"] in seen_entities(v))  # type: ignore[index]
        await asyncio.sleep(0.3)
        assert f.welcome["you"]["id"] not in seen_entities(v)  # type: ignore[index]
        for client in (n, f, v):
            await client.close()

    asyncio.run(scenario())


def test_reconnect_within_grace_resumes_the_same_entity(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    bob = make_player("Bob", dx=2.0)

    async def scenario() -> None:
        a = await enter(live_world, alice)
        b = await enter(live_world, bob, track_entities=True)
        entity_id = a.welcome["you"]["id"]  # type: ignore[index]
        await wait_until(lambda: entity_id in seen_entities(b))
        me = a.welcome["you"]  # type: ignore[index]
        seq = await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=500_000.0, cid=me["cor"])
        await wait_until(lambda: a.acked >= seq)
        await a.close()
        again = await enter(live_world, alice)
        assert again.welcome["you"]["id"] == entity_id  # type: ignore[index]
        # A new connection has its own client clock (a reloaded page starts near 0): accepted.
        you = again.welcome["you"]  # type: ignore[index]
        corrections: list[dict[str, Any]] = []
        again.on_frame = lambda frame: corrections.append(frame["you"]) if "you" in frame else None
        seq = await again.send("move", x=you["x"] + 0.25, y=you["y"], ct=1000.0, cid=you["cor"])
        await wait_until(lambda: again.acked >= seq)
        await asyncio.sleep(0.2)
        assert [c for c in corrections if c["cor"] > you["cor"]] == []
        again.on_frame = None
        await asyncio.sleep(0.3)
        # Bob never saw the entity leave and come back as a second one.
        assert list(seen_entities(b)) == [entity_id]
        await again.close()
        await b.close()

    asyncio.run(scenario())


def test_second_login_takes_over_the_first_connection(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")

    async def scenario() -> None:
        first = await enter(live_world, alice)
        entity_id = first.welcome["you"]["id"]  # type: ignore[index]
        second = await enter(live_world, alice)
        closed = await first.wait_closed()
        assert closed.code == 4002
        assert closed.last_error is not None
        assert closed.last_error["code"] == "session_taken_over"
        assert second.welcome["you"]["id"] == entity_id  # type: ignore[index]
        await second.close()

    asyncio.run(scenario())


def test_bad_frames_get_error_frames_and_the_connection_survives(
    shard: None, live_world: LiveWorld
) -> None:
    alice = make_player("Alice")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        await a.send_raw('{"t":"move","seq":1,"x":"east"}')
        await a.send_raw('{"t":"teleport","seq":2}')
        await wait_until(
            lambda: {e["code"] for e in a.errors} >= {"invalid_intent", "unknown_intent"}
        )
        seq = await a.send("ping", ct=5.0)
        await wait_until(lambda: a.acked >= seq)
        await a.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"t":"chat","seq":1,"channel":"say","text":"' + "x" * 5000 + '"}', "frame_too_large"),
        ("[1,2,3]", "bad_frame"),
        ("not json at all", "bad_frame"),
        # Well-formed JSON, but in a binary frame: a JSON connection takes text frames only.
        (b'{"t":"ping","seq":1,"ct":5.0}', "bad_frame"),
    ],
)
def test_garbage_frame_closes_with_protocol_error(
    shard: None, live_world: LiveWorld, frame: str | bytes, code: str
) -> None:
    alice = make_player("Alice")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        await a.send_raw(frame)
        closed = await a.wait_closed()
        assert closed.code == 4000
        assert closed.last_error is not None and closed.last_error["code"] == code
        # Reported once, as the standalone error frame before the close (not also as an event).
        assert [e.get("t") for e in a.errors if e["code"] == code] == ["error"]

    asyncio.run(scenario())


def test_unknown_ticket_is_refused(shard: None, live_world: LiveWorld) -> None:
    async def scenario() -> None:
        client = WorldClient(live_world.base_url.replace("http", "ws") + "/ws/world/", "x" * 40)
        with pytest.raises(Exception) as raised:
            await client.connect()
        assert getattr(raised.value, "code", None) == 4001

    asyncio.run(scenario())


def test_banned_player_is_disconnected_with_the_reason(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        await ban(alice.account_id)
        closed = await a.wait_closed()
        assert closed.code == 4001
        assert closed.last_error is not None
        assert closed.last_error["code"] == "account_restricted"
        assert "cheating" in closed.last_error["msg"]

    asyncio.run(scenario())


async def ban(account_id: int) -> None:
    from asgiref.sync import sync_to_async

    from accounts.models import User
    from accounts.services import account_ban

    def do_ban() -> None:
        account_ban(user=User.objects.get(pk=account_id), reason="cheating", actor=None)

    await sync_to_async(do_ban)()


def test_equipping_gear_raises_max_hp_in_the_world(shard: None, live_world: LiveWorld) -> None:
    """Issue 4: equip/unequip stat effects reach the world (stamina → max HP)."""
    alice = make_player("Alice")
    Character.objects.filter(pk=alice.pk).update(level=10)

    async def scenario() -> None:
        a = await enter(live_world, alice)
        base = a.welcome["you"]["mhp"]  # type: ignore[index]
        changes: list[dict[str, Any]] = []
        a.on_frame = lambda frame: changes.extend(frame.get("chg", ()) or ())
        await equip(alice.pk, "iron_helm")
        await wait_until(lambda: any(c.get("mhp") == base + 20 for c in changes))
        await a.close()

    asyncio.run(scenario())


async def equip(character_id: int, item_id: str) -> None:
    from asgiref.sync import sync_to_async

    from economy.services import economy_grant, inventory_equip

    def grant_and_equip() -> None:
        character = Character.objects.get(pk=character_id)
        grant = economy_grant(
            character=character,
            source="gm",
            actor=None,
            reason="test",
            idempotency_key=f"test-{item_id}",
            items=[(item_id, 1)],
        )
        inventory_equip(character=character, item_id=grant.item_ids[0])

    await sync_to_async(grant_and_equip)()


def test_leaving_the_world_after_the_grace_saves_and_cancels_trades(
    shard: None, live_world: LiveWorld
) -> None:
    from economy.models import Trade, TradeState
    from economy.services import trade_open

    alice = make_player("Alice")
    bob = make_player("Bob", dx=1.0)
    trade = trade_open(initiator=alice, partner_name="Bob")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        me = a.welcome["you"]  # type: ignore[index]
        await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=1000.0, cid=me["cor"])
        await wait_until(lambda: a.acked >= 1)
        await a.close()
        # Grace is 3 s in the test server; then the entity is removed, saved, trades cancelled.
        await asyncio.sleep(4.5)

    asyncio.run(scenario())
    trade.refresh_from_db()
    assert trade.state == TradeState.CANCELLED
    alice.refresh_from_db()
    assert alice.x == pytest.approx(town_spawn()[0] + 0.25, abs=0.01)
    assert Trade.objects.filter(pk=trade.pk, state=TradeState.CANCELLED).exists()
    assert bob.pk  # bob never entered: only the leaver's trades are cancelled by leaving
