"""Where the gateway hub and the shards of this process come from.

- Embedded (``WORLD_TRANSPORT=local``, the default without Redis): the ASGI process hosts the
  hub *and* one ``ShardRunner`` per shard row, wired through a ``LocalBus``; started and
  stopped by the ASGI lifespan (``mmo_platform.asgi``).
- Production (``WORLD_TRANSPORT=redis``): ASGI processes host only a hub talking Redis;
  each shard is its own process (``manage.py runshard <name>``).
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from liveops.ops_services import world_flush_register, world_flush_unregister
from worlds.runtime.hub import GatewayHub
from worlds.runtime.runner import ShardRunner
from worlds.runtime.transport import LocalBus, LocalShardOutbox, redis_client_for_transport
from worlds.sim.zonemap import ZoneMap

logger = logging.getLogger(__name__)

_hub: GatewayHub | None = None
_bus: LocalBus | None = None
_runners: dict[str, object] = {}


def world_transport() -> str:
    configured: str = getattr(settings, "WORLD_TRANSPORT", "")
    return configured or ("local" if settings.EMBEDDED else "redis")


def get_bus() -> LocalBus:
    global _bus
    if _bus is None:
        _bus = LocalBus()
    return _bus


def get_hub() -> GatewayHub:
    """The process's gateway hub (created on first use)."""
    global _hub
    if _hub is None:
        idle = float(getattr(settings, "WORLD_IDLE_TIMEOUT_SECONDS", 15.0))
        if world_transport() == "local":
            _hub = GatewayHub(bus=get_bus(), idle_timeout_seconds=idle)
        else:
            client = redis_client_for_transport()
            flush_ms = float(getattr(settings, "WORLD_INTENT_FLUSH_MS", 4.0))
            _hub = GatewayHub(
                redis_client=client, idle_timeout_seconds=idle, intent_flush_window=flush_ms / 1000
            )
    return _hub


def runner_config_for(shard_name: str, realm: str) -> object:
    from worlds.runtime.runner import RunnerConfig
    from worlds.sim.config import SimConfig

    return RunnerConfig(
        name=shard_name,
        realm=realm,
        tick_hz=settings.WORLD_TICK_HZ,
        flush_interval=settings.WORLD_FLUSH_INTERVAL_SECONDS,
        reconnect_grace=float(getattr(settings, "WORLD_RECONNECT_GRACE_SECONDS", 30.0)),
        sim=SimConfig(tick_hz=settings.WORLD_TICK_HZ),
    )


async def start_embedded_world() -> list[str]:
    """Start a runner for every shard row, in this process. Returns the shard names."""
    from asgiref.sync import sync_to_async

    if world_transport() != "local":
        return []
    bus = get_bus()
    await get_hub().start()
    shards = await sync_to_async(_embedded_shard_rows)()
    for name, realm, zones in shards:
        if name in _runners:
            continue
        runner = ShardRunner(
            config=runner_config_for(name, realm),  # type: ignore[arg-type]
            zone_maps=_zone_maps(),
            owned_zones=set(zones) or set(_zone_maps()),
            outbox=LocalShardOutbox(bus),
        )
        bus.register_shard(name, runner.receive)
        await runner.start()
        _runners[name] = runner
        _register_flush(name, runner, asyncio.get_running_loop())
        logger.info("embedded shard %s (realm %s) running", name, realm)
    return [name for name, _, _ in shards]


async def stop_embedded_world() -> None:
    """Save every character and mark the shards offline (SIGTERM / Ctrl-C path)."""
    runners = list(_runners.items())
    _runners.clear()
    await asyncio.gather(*(runner.stop() for _, runner in runners))  # type: ignore[attr-defined]
    for name, _ in runners:
        get_bus().unregister_shard(name)
        world_flush_unregister(f"shard:{name}")
    if _hub is not None:
        await _hub.stop()


def _register_flush(name: str, runner: ShardRunner, loop: asyncio.AbstractEventLoop) -> None:
    """Let the ops safety-net task (any thread) flush this in-process shard."""

    def flush() -> int:
        return asyncio.run_coroutine_threadsafe(runner.flush_now(), loop).result(timeout=60)

    world_flush_register(f"shard:{name}", flush)


def embedded_runner(name: str) -> object | None:
    return _runners.get(name)


def _embedded_shard_rows() -> list[tuple[str, str, list[str]]]:
    """The shards this site serves itself: those with a relative WebSocket URL (ADR 0012)."""
    from worlds.selectors import shards_served_locally

    return [
        (shard.name, shard.realm.slug, list(shard.zones or [])) for shard in shards_served_locally()
    ]


def _zone_maps() -> dict[str, ZoneMap]:
    from worlds.content import get_zone_maps

    return dict(get_zone_maps())


def reset_for_tests() -> None:
    global _hub, _bus
    _hub, _bus = None, None
    _runners.clear()
