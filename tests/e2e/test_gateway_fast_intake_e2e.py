"""Over a real uvicorn socket, intents take the gateway's fast intake (ADR 0052) and everything
else still gets the ASGI path's answers."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import LiveWorld
from tests.e2e.test_world_e2e import enter, make_player, shard, wait_until
from worlds.gateway import WorldConsumer
from worlds.runtime.socket_reader import ClientFrameReader

__all__ = ["shard"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_moves_are_taken_by_the_reader_and_a_ping_still_gets_its_pong(
    shard: None, live_world: LiveWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[bool] = []
    taken: list[bytes] = []
    install, take = ClientFrameReader.install, WorldConsumer.take_intent_now

    def counting_install(protocol: object, taker: object) -> bool:
        installs.append(install(protocol, taker))  # type: ignore[arg-type]
        return installs[-1]

    def counting_take(self: WorldConsumer, data: bytes, is_text: bool) -> bool:
        accepted = take(self, data, is_text)
        if accepted:
            taken.append(data)
        return accepted

    monkeypatch.setattr(ClientFrameReader, "install", staticmethod(counting_install))
    monkeypatch.setattr(WorldConsumer, "take_intent_now", counting_take)
    alice = make_player("Alice")

    async def scenario() -> None:
        a = await enter(live_world, alice)
        me = a.welcome["you"]  # type: ignore[index]
        seq = await a.send("move", x=me["x"] + 0.25, y=me["y"], ct=1000.0, cid=me.get("cor", 0))
        await wait_until(lambda: a.acked >= seq)
        pong = await a.send("ping", ct=1.0)
        await wait_until(lambda: a.acked >= pong)
        await a.close()
        assert a.closed is not None and a.closed.code == 1000
        assert a.errors == []

    asyncio.run(scenario())
    assert installs == [True]
    assert len(taken) == 2 and b'"move"' in taken[0]  # the hello went the ASGI way
