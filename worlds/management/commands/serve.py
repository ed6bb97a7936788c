"""Serve HTTP + WebSocket (the ASGI app) with uvicorn — what `make run` ends in.

uvicorn over daphne: it speaks the ASGI lifespan protocol (the embedded world starts and saves
through it) and used a quarter of daphne's CPU per WebSocket frame here (ADR 0050,
docs/benchmarks.md). Ctrl-C / SIGTERM stop accepting, close sockets, save the world, exit.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the platform (HTTP + WebSocket + embedded world) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, host: str, port: int, log_level: str, **options: Any) -> None:
        import uvicorn

        from mmo_platform import asgi

        asgi.GC_TUNING_AFTER_STARTUP = True
        self.stdout.write(f"mmo_platform serving on http://{host}:{port}/  (Ctrl-C stops)")
        uvicorn.run(
            "mmo_platform.asgi:application",
            host=host,
            port=port,
            lifespan="on",
            ws="websockets-sansio",
            ws_per_message_deflate=False,  # deflate stops frame sharing and costs ~64 KiB/socket
            ws_max_size=64 * 1024,
            ws_ping_interval=None,  # the game protocol has its own heartbeat
            log_level=log_level,
            timeout_graceful_shutdown=15,
        )
