"""Run one shard as its own process (production): ``manage.py runshard <name>``.

The shard row says which realm and zones it owns (``--realm``/``--zones`` create or update it).
It listens for its gateways on Redis, ticks, flushes, heartbeats. SIGTERM/SIGINT: stop ticking,
close every client with "server restarting", save everyone, mark the shard offline, exit 0.
After ``kill -9`` the last flush (at most ``WORLD_FLUSH_INTERVAL_SECONDS`` old) is what remains.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a world shard process (Redis transport)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--realm", help="realm slug (needed when the shard row is new)")
        parser.add_argument("--zones", default="", help="comma-separated zone ids; empty = all")
        parser.add_argument("--capacity", type=int, default=None)
        parser.add_argument("--region", default=None)
        parser.add_argument("--metrics-port", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("runshard needs REDIS_URL (embedded mode runs shards in-process).")
        from worlds.runtime.shard_process import ShardProcessOptions, run_shard_process

        opts = ShardProcessOptions(
            name=options["name"],
            realm=options["realm"],
            zones=[z for z in options["zones"].split(",") if z],
            capacity=options["capacity"],
            region=options["region"],
            metrics_port=options["metrics_port"],
        )
        self.stdout.write(f"shard {opts.name}: starting")
        run_event_loop(_main(opts, run_shard_process))
        self.stdout.write(f"shard {opts.name}: stopped cleanly")


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """On uvloop when installed (``uvicorn[standard]`` brings it; the gateway runs on it too):
    its loop, transports and Redis socket reads cost the shard less CPU than asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _main(opts: Any, run: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(opts, stop)
