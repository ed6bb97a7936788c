"""The body of ``manage.py runshard``: one ShardRunner on the Redis transport."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from mmo_platform.gc_tuning import gc_tune_for_server
from worlds.runtime.hosting import runner_config_for
from worlds.runtime.runner import ShardRunner
from worlds.runtime.transport import (
    RedisShardOutbox,
    listen_shard_channel,
    redis_client_for_transport,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardProcessOptions:
    name: str
    realm: str | None
    zones: list[str]
    capacity: int | None
    region: str | None
    metrics_port: int | None


async def run_shard_process(opts: ShardProcessOptions, stop: asyncio.Event) -> None:
    from worlds.content import get_zone_maps
    from worlds.runtime.persistence import shard_register

    realm, zones = await sync_to_async(shard_register)(
        name=opts.name,
        realm_slug=opts.realm,
        zones=opts.zones,
        capacity=opts.capacity,
        region=opts.region,
    )
    if opts.metrics_port:
        from mmo_platform.metrics import metrics_serve_for_process

        metrics_serve_for_process(opts.metrics_port)
    zone_maps = get_zone_maps()
    client = redis_client_for_transport()
    runner = ShardRunner(
        config=runner_config_for(opts.name, realm),  # type: ignore[arg-type]
        zone_maps=dict(zone_maps),
        owned_zones=set(zones) or set(zone_maps),
        outbox=RedisShardOutbox(client),
    )
    ready = asyncio.Event()
    listener = asyncio.create_task(listen_shard_channel(client, opts.name, runner.receive, ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    await runner.start()
    gc_tune_for_server()  # start-up done: zone maps and the sim are loaded for good
    flush_listener = asyncio.create_task(_listen_flush_requests(client, runner))
    logger.info(
        "shard %s ticking (realm %s, zones %s)", opts.name, realm, sorted(runner.owned_zones)
    )
    await stop.wait()
    logger.info("shard %s stopping: saving every character", opts.name)
    await runner.stop()
    listener.cancel()
    flush_listener.cancel()
    await client.aclose()


async def _listen_flush_requests(client: Any, runner: ShardRunner) -> None:
    """The ops safety-net task publishes on WORLD_FLUSH_CHANNEL; every shard saves at once."""
    from liveops.ops_services import WORLD_FLUSH_CHANNEL

    async with client.pubsub() as pubsub:
        await pubsub.subscribe(WORLD_FLUSH_CHANNEL)
        async for message in pubsub.listen():
            if message.get("type") == "message":
                written = await runner.flush_now()
                logger.info("shard %s: ops flush saved %d characters", runner.name, written)
