"""A real server for end-to-end tests: uvicorn on a free loopback port, in a thread of the test
process, running the ASGI app with its lifespan (so the embedded world starts and stops exactly
as under `make run`). Tests talk to it with the ``mmo_client`` bot library over real sockets.

Data must be committed to be seen by the server thread: use ``django_db(transaction=True)``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
import uvloop
from channels.layers import channel_layers
from django.test import override_settings


def _dump_tasks(loop: asyncio.AbstractEventLoop) -> None:
    import sys

    def dump() -> None:
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=sys.stderr)

    loop.call_soon_threadsafe(dump)
    time.sleep(1)


@dataclass
class LiveWorld:
    base_url: str
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop

    def call(self, coro: object) -> object:
        """Run a coroutine on the server's loop (to inspect runners) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_world_settings() -> dict[str, object]:
    """Settings of the test server; a test module may override this fixture."""
    return {"WORLD_FLUSH_INTERVAL_SECONDS": 1.0, "WORLD_RECONNECT_GRACE_SECONDS": 3.0}


@pytest.fixture
def live_world(
    transactional_db: None, live_world_settings: dict[str, object]
) -> Iterator[LiveWorld]:
    from worlds.runtime import hosting

    port = _free_port()
    with override_settings(
        WORLD_AUTOSTART=True,
        WORLD_TRANSPORT="local",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        **live_world_settings,
    ):
        hosting.reset_for_tests()
        channel_layers.backends.clear()  # a layer binds itself to the loop of its first receive
        config = uvicorn.Config(
            "mmo_platform.asgi:application",
            host="127.0.0.1",
            port=port,
            lifespan="on",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            log_level="warning",
            timeout_graceful_shutdown=15,  # as manage.py serve
        )
        server = uvicorn.Server(config)
        loop = uvloop.new_event_loop()  # as manage.py serve runs
        thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        try:
            yield LiveWorld(f"http://127.0.0.1:{port}", server, loop)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            if thread.is_alive():
                _dump_tasks(loop)
                raise RuntimeError("test server did not stop within 30 s")
            loop.close()
            hosting.reset_for_tests()
