"""Hypothesis fuzzing of the gateway consumer and shard over a real socket.

Random text, bytes, JSON and near-valid intents are thrown at an entered connection. Whatever
arrives, the server must never crash: the socket either stays usable (a ping is acked) or is
closed with a protocol close code and an error frame; the shard keeps ticking; the character
stays inside the map on a walkable tile.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmo_client import ConnectionLost, WorldClient
from tests.e2e.conftest import LiveWorld
from tests.e2e.test_world_e2e import enter, make_player
from worlds.content import get_zone_maps
from worlds.runtime import hosting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROTOCOL_CLOSE_CODES = {4000, 4003}

numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1e308, -1e308, 2**31, 2**53]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
intent_types = st.sampled_from(
    ["move", "stop", "face", "chat", "emote", "ping", "hello", "attack", "trade_offer", "", "x"]
)


@st.composite
def near_valid_intents(draw: st.DrawFn) -> str:
    frame: dict[str, Any] = {"t": draw(intent_types), "seq": draw(numbers)}
    for key in draw(
        st.lists(
            st.sampled_from(
                ["x", "y", "ct", "cid", "text", "channel", "emote", "facing", "echo", "held"]
            ),
            max_size=5,
        )
    ):
        frame[key] = draw(json_values)
    return (
        orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode()
        if _finite(frame)
        else ('{"t":"move","seq":1,"x":NaN,"y":1}')
    )


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return not isinstance(value, int) or abs(value) < 2**63


# Mostly near-valid intents (non-fatal: the connection lives on and later frames get through),
# some plain garbage (fatal: the connection must close with a protocol error).
frames = st.one_of(
    near_valid_intents(),
    near_valid_intents(),
    near_valid_intents(),
    st.text(max_size=300),
    st.binary(max_size=300),
    json_values.map(lambda v: orjson.dumps(v).decode() if _finite(v) else "null"),
)


@pytest.fixture
def shard() -> None:
    from tests.characters.factories import RealmFactory, ShardFactory

    ShardFactory(realm=RealmFactory(slug="e2e"), name="e2e-1", capacity=50)


def test_random_frames_never_break_the_gateway_or_the_shard(
    shard: None, live_world: LiveWorld
) -> None:
    hero = make_player("Fuzzer")
    zone_map = get_zone_maps()["town"]

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(batch=st.lists(frames, min_size=1, max_size=25))
    def run(batch: list[str | bytes]) -> None:
        asyncio.run(throw(batch))

    async def throw(batch: list[str | bytes]) -> None:
        client = await enter(live_world, hero)
        for frame in batch:
            if client.closed is not None:
                break
            try:
                await client.send_raw(frame)
            except Exception:  # the server closed the socket under us: checked below
                break
        await asyncio.sleep(0.15)
        if client.closed is None:
            client.seq = 10**9  # above anything the fuzz may have sent
            try:
                seq = await client.send("ping", ct=1.0)
                await wait_ack(client, seq)
                await client.close()
            except ConnectionLost:
                await client.wait_closed()
        if client.closed is not None and client.closed.code != 1000:
            assert client.closed.code in PROTOCOL_CLOSE_CODES, client.closed
            assert client.closed.last_error is not None
        await assert_world_sane(live_world, hero.pk, zone_map)

    run()


async def wait_ack(client: WorldClient, seq: int) -> None:
    for _ in range(100):
        if client.acked >= seq:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"ping {seq} was not acked; errors: {client.errors[-3:]}")


async def assert_world_sane(world: LiveWorld, character_id: int, zone_map: Any) -> None:
    async def inspect() -> tuple[int, Any]:
        runner: Any = hosting.embedded_runner("e2e-1")
        key = f"ch{character_id}"
        state = runner.sim.snapshot_player(key) if runner.sim.has_player(key) else None
        return runner.tick_count, state

    ticks_before, state = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(inspect(), world.loop)
    )
    await asyncio.sleep(0.12)
    ticks_after, _ = await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(inspect(), world.loop)
    )
    assert ticks_after > ticks_before, "the shard stopped ticking"
    if state is not None:
        assert zone_map.is_walkable(state.x, state.y), state
