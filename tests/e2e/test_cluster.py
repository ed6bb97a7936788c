"""The production deployment, for real: a gateway process and two shard processes talking over
Redis, on PostgreSQL. A character walks through a portal from a zone owned by one shard process
into a zone owned by the other; a shard is killed with SIGKILL and loses at most one flush
interval; SIGTERM saves everyone; a gateway killed with SIGKILL does not leave its players in
the world.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from characters.models import Character
from mmo_client import PlatformAPI, WorldClient
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.e2e.conftest import _free_port
from tests.factories import DEFAULT_PASSWORD, UserFactory
from worlds.models import Shard, WorldSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[2]
FLUSH_SECONDS = 1.0
GRACE_SECONDS = 2.0


class Cluster:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def env(self) -> dict[str, str]:
        db = connection.settings_dict
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mmo_platform.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL or "",
            "WORLD_TRANSPORT": "redis",
            "WORLD_FLUSH_INTERVAL_SECONDS": str(FLUSH_SECONDS),
            "WORLD_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS),
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "mmo"),
        }

    def start(self, name: str, *argv: str) -> None:
        log = Path(f"/tmp/mmo-cluster-{os.getpid()}-{name}.log")
        self.logs[name] = log
        handle = log.open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env=self.env(), stdout=handle, stderr=handle
        )

    def start_gateway(self) -> None:
        self.start(
            "gateway",
            "-m", "uvicorn", "mmo_platform.asgi:application",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ws", "websockets-sansio", "--lifespan", "on", "--log-level", "warning",
        )  # fmt: skip

    def start_shard(self, name: str) -> None:
        self.start(name, "manage.py", "runshard", name)

    def signal(self, name: str, sig: int) -> int:
        process = self.processes.pop(name)
        process.send_signal(sig)
        return process.wait(timeout=30)

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(predicate: object, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def shard_is_up(name: str, since: float = 0.0) -> bool:
    """Healthy, with a heartbeat sent after ``since`` (epoch seconds): a freshly started process."""
    shard = Shard.objects.get(name=name)
    heard = shard.last_heartbeat.timestamp() if shard.last_heartbeat else 0.0
    return shard.is_healthy() and heard > since


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    port = _free_port()
    realm = RealmFactory(slug="cluster")
    ws_url = f"ws://127.0.0.1:{port}/ws/world/"
    ShardFactory(realm=realm, name="c-town", zones=["town"], ws_url=ws_url, last_heartbeat=None)
    ShardFactory(
        realm=realm,
        name="c-field",
        zones=["field", "dungeon_entrance"],
        ws_url=ws_url,
        last_heartbeat=None,
    )
    running = Cluster(port)
    running.start_gateway()
    running.start_shard("c-town")
    running.start_shard("c-field")
    try:
        wait_for(lambda: shard_is_up("c-town") and shard_is_up("c-field"), what="shards")
        wait_for(lambda: _port_open(port), what="gateway")
        yield running
    finally:
        running.stop_all()


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def enter(cluster: Cluster, character: Character, username: str) -> WorldClient:
    api = PlatformAPI(cluster.base_url)
    try:
        await api.login(username, DEFAULT_PASSWORD)
        ticket = await api.join(character.pk)
    finally:
        await api.close()
    client = WorldClient(api.ws_url(ticket), ticket.ticket)
    await client.connect()
    return client


async def walk(client: WorldClient, x: float, y: float, to_x: float, step: float = 0.25) -> float:
    """Walk east along y at 5 tiles/s (under the 6 tiles/s limit), in real time."""
    cid = client.welcome["you"]["cor"]  # type: ignore[index]
    clock = 1000.0
    while x < to_x:
        x = round(min(x + step, to_x), 2)
        clock += 50.0
        await client.send("move", x=x, y=y, ct=clock, cid=cid)
        await asyncio.sleep(0.05)
    return x


def test_portal_hands_the_character_to_the_shard_owning_the_next_zone(cluster: Cluster) -> None:
    user = UserFactory(username="walker")
    hero = CharacterFactory(
        account=user, realm=RealmFactory(slug="cluster"), name="Walker", zone="town", x=45.5, y=24.0
    )

    async def scenario() -> None:
        client = await enter(cluster, hero, user.username)
        assert client.welcome["zone"]["id"] == "town"  # type: ignore[index]
        assert client.welcome["shard"] == "c-town"  # type: ignore[index]
        welcomes: list[dict[str, object]] = []
        client.on_frame = lambda frame: (
            welcomes.append(frame) if frame.get("t") == "welcome" else None
        )
        await walk(client, 45.5, 24.0, 47.3)
        deadline = time.monotonic() + 10
        while not welcomes and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert welcomes, cluster.log("c-town") + cluster.log("gateway")
        assert welcomes[-1]["zone"]["id"] == "field"  # type: ignore[index]
        assert welcomes[-1]["shard"] == "c-field"
        await client.close()

    asyncio.run(scenario())
    hero.refresh_from_db()
    assert hero.zone == "field"
    # a rejoin is routed to the shard that holds the character now
    assert WorldSession.objects.get(account=user).shard.name == "c-field"  # type: ignore[union-attr]


def test_sigkill_loses_at_most_one_flush_interval_and_sigterm_saves(cluster: Cluster) -> None:
    user = UserFactory(username="survivor")
    hero = CharacterFactory(
        account=user, realm=RealmFactory(slug="cluster"), name="Survivor", zone="field"
    )
    from worlds.content import get_zone_maps

    spawn = get_zone_maps()["field"].spawn_points["default"]
    Character.objects.filter(pk=hero.pk).update(x=spawn.x, y=spawn.y)

    async def scenario() -> tuple[float, float]:
        client = await enter(cluster, hero, user.username)
        start_x = client.welcome["you"]["x"]  # type: ignore[index]
        reached = await walk(client, start_x, spawn.y, start_x + 2.0)
        await asyncio.sleep(FLUSH_SECONDS * 2.5)  # at least one flush after the walk
        moved_at = time.monotonic()
        await walk(client, reached, spawn.y, reached + 1.0)
        killed_at = time.monotonic()
        assert cluster.signal("c-field", signal.SIGKILL) == -signal.SIGKILL
        await client.close()
        return reached, killed_at - moved_at

    reached, _ = asyncio.run(scenario())
    hero.refresh_from_db()
    # What was flushed before the kill survived; what came after (< one interval) may be lost.
    assert hero.x >= reached - 0.01

    # Restart the shard; it reloads the saved state; SIGTERM then saves the latest position.
    restarted = time.time()
    cluster.start_shard("c-field")
    wait_for(lambda: shard_is_up("c-field", since=restarted), what="restarted shard")

    async def second_life() -> float:
        client = await enter(cluster, hero, user.username)
        x = client.welcome["you"]["x"]  # type: ignore[index]
        assert x == pytest.approx(hero.x, abs=0.01)
        final_x = await walk(client, x, spawn.y, x + 1.0)
        await asyncio.sleep(0.3)
        assert cluster.signal("c-field", signal.SIGTERM) == 0
        closed = await client.wait_closed()
        assert closed.code == 4005
        assert client.bye is not None and client.bye["reason"] == "shutdown"
        return final_x

    final_x = asyncio.run(second_life())
    hero.refresh_from_db()
    assert hero.x == pytest.approx(final_x, abs=0.01)
    assert "stopped cleanly" in cluster.log("c-field")


def test_players_of_a_gateway_killed_with_sigkill_leave_the_world_after_the_grace(
    cluster: Cluster,
) -> None:
    from worlds.runtime.runner import GATEWAY_SILENCE_LIMIT_SECONDS

    user = UserFactory(username="orphan")
    hero = CharacterFactory(account=user, realm=RealmFactory(slug="cluster"), name="Orphan")

    async def scenario() -> float:
        client = await enter(cluster, hero, user.username)
        x = client.welcome["you"]["x"]  # type: ignore[index]
        return await walk(client, x, client.welcome["you"]["y"], x + 1.0)  # type: ignore[index]

    walked_to = asyncio.run(scenario())
    wait_for(lambda: Shard.objects.get(name="c-town").population == 1, what="the player counted")
    killed_at = time.monotonic()
    assert cluster.signal("gateway", signal.SIGKILL) == -signal.SIGKILL

    # No Detach will ever come: the shard notices the silence, holds the character for the
    # grace, then saves it and lets it go (its heartbeat reports it gone).
    wait_for(lambda: Shard.objects.get(name="c-town").population == 0, what="the player released")
    released_after = time.monotonic() - killed_at
    assert released_after >= GATEWAY_SILENCE_LIMIT_SECONDS
    hero.refresh_from_db()
    assert hero.x == pytest.approx(walked_to, abs=0.01)
    assert "start their reconnect grace" in cluster.log("c-town")
