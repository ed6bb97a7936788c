"""Serve HTTP + WebSocket (the ASGI app) with uvicorn — what `make run` ends in.

uvicorn over daphne: it speaks the ASGI lifespan protocol (the embedded world starts and saves
through it) and used a quarter of daphne's CPU per WebSocket frame here (ADR 0050,
docs/benchmarks.md). Ctrl-C / SIGTERM stop accepting, close sockets, save the world, exit.

``--reuse-port`` (production only) binds with ``SO_REUSEPORT``, so several gateway processes
can serve one port and the kernel spreads new connections over them (ADR 0053). Embedded mode
refuses it: each process would host a world of its own.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Serve the platform (HTTP + WebSocket + embedded world) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--log-level", default="info")
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            help="bind with SO_REUSEPORT so several gateway processes share the port "
            "(production, WORLD_TRANSPORT=redis, only)",
        )

    def handle(
        self, *args: Any, host: str, port: int, log_level: str, reuse_port: bool, **options: Any
    ) -> None:
        import uvicorn
        from uvicorn.config import STARTUP_FAILURE

        from mmo_platform import asgi

        if reuse_port:
            refuse_shared_port_for_singletons()
        asgi.GC_TUNING_AFTER_STARTUP = True
        config = uvicorn.Config(
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
        try:
            sockets = [shared_port_socket(host, port)] if reuse_port else None
        except OSError as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error}") from error
        self.stdout.write(f"mmo_platform serving on http://{host}:{port}/  (Ctrl-C stops)")
        server = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=sockets)
        if not server.started:  # as uvicorn.run: a failed start-up exits non-zero
            raise SystemExit(STARTUP_FAILURE)


def refuse_shared_port_for_singletons() -> None:
    """Things a process may host only when it is the only one: the embedded world, and the
    embedded scheduler (each process would run every scheduled job)."""
    from django.conf import settings

    from worlds.runtime.hosting import world_transport

    if world_transport() == "local":
        raise CommandError(
            "--reuse-port needs the production world (REDIS_URL / WORLD_TRANSPORT=redis): "
            "embedded processes sharing a port would each run a world of their own"
        )
    if settings.OPS_EMBEDDED_SCHEDULER:
        raise CommandError(
            "--reuse-port with OPS_EMBEDDED_SCHEDULER=true would run every scheduled job once "
            "per process: run Celery beat instead"
        )


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (SO_REUSEPORT): the kernel hashes each
    new connection to one of them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock
