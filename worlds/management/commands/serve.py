"""Serve HTTP + WebSocket (the ASGI app) — what `make run` ends in.

In embedded mode the world shard loop runs inside this process (started by the gateway);
Ctrl-C / SIGTERM stops the server, which saves the world before exiting.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the platform (HTTP + WebSocket) with daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        from daphne.cli import CommandLineInterface

        self.stdout.write(f"mmo_platform serving on http://{host}:{port}/  (Ctrl-C stops)")
        CommandLineInterface().run(
            [
                "--bind", host,
                "--port", str(port),
                "--websocket_timeout", "-1",
                "--application-close-timeout", "15",
                "mmo_platform.asgi:application",
            ]
        )  # fmt: skip
