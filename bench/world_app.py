"""The embedded server for the world benchmark: ``mmo_platform.asgi:application`` unchanged, plus
one set-up step after start-up.

Embedded mode keeps world tickets in the process's local-memory cache, so they must be issued
inside the server process. Once the lifespan start-up has completed (the in-process shards are
running and routable), a background thread calls ``worlds.services.world_join`` for the first
``BENCH_PLAYERS`` bench characters and writes the tickets to ``BENCH_TICKETS_OUT``
(bench/world_setup.py ``tickets_write``). Every other ASGI message goes straight to the platform.

``python bench/world_app.py --port P`` serves it with the options of ``manage.py serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.world_settings")

from mmo_platform.asgi import application as platform_application  # noqa: E402


def _issue_tickets() -> None:
    from django.db import connection

    from bench.world_setup import tickets_write

    try:
        tickets_write(
            players=int(os.environ["BENCH_PLAYERS"]), out=Path(os.environ["BENCH_TICKETS_OUT"])
        )
    finally:
        connection.close()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan" or not os.environ.get("BENCH_TICKETS_OUT"):
        await platform_application(scope, receive, send)
        return

    async def send_then_issue(message: dict[str, Any]) -> None:
        await send(message)
        if message["type"] == "lifespan.startup.complete":
            threading.Thread(target=_issue_tickets, name="bench-tickets", daemon=True).start()

    await platform_application(scope, receive, send_then_issue)


def main() -> None:
    parser = argparse.ArgumentParser(description="embedded server for bench/world_load.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from mmo_platform import asgi

    asgi.GC_TUNING_AFTER_STARTUP = True  # as manage.py serve
    # The options of worlds/management/commands/serve.py (what `make run` serves with).
    uvicorn.run(
        "bench.world_app:application",
        host=args.host,
        port=args.port,
        lifespan="on",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
        ws_ping_interval=None,
        log_level="warning",
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":
    main()
