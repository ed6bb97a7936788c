"""ASGI entry point: HTTP through Django, WebSockets through Channels, lifespan for the world.

In embedded mode the lifespan starts the in-process shards on start-up and saves the world on
shutdown (Ctrl-C / SIGTERM), so the ASGI server must speak lifespan (uvicorn does; ADR 0050).
WebSocket connections authenticate with single-use tickets inside the consumer, not with
cookies, so there is no AuthMiddlewareStack; the origin validator still rejects foreign pages.
"""

import logging
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmo_platform.settings.embedded")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from mmo_platform.routing import websocket_urlpatterns  # noqa: E402

logger = logging.getLogger(__name__)


class GameOriginValidator(OriginValidator):
    """Browsers must come from our own site (ALLOWED_HOSTS); native clients and bots send no
    Origin header and are let through: the socket is authenticated by a single-use ticket in
    its first frame, never by a cookie, so there is no cross-site socket to hijack."""

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def _allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    return ["*"] if settings.DEBUG and not hosts else hosts


router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": GameOriginValidator(URLRouter(websocket_urlpatterns), _allowed_origins()),
    }
)


# Set by the commands that serve for real (``manage.py serve``, bench/world_app.py), not by tests:
# freeze the start-up heap and raise the young GC threshold once start-up is done.
GC_TUNING_AFTER_STARTUP = False


async def lifespan(receive: Any, send: Any) -> None:
    from liveops.scheduler import start_embedded_scheduler, stop_embedded_scheduler
    from worlds.runtime import hosting

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                if getattr(settings, "WORLD_AUTOSTART", True):
                    await hosting.start_embedded_world()
                    start_embedded_scheduler()
            except Exception as exc:
                logger.exception("world start-up failed")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if GC_TUNING_AFTER_STARTUP:
                from mmo_platform.gc_tuning import gc_tune_for_server

                gc_tune_for_server()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                stop_embedded_scheduler()
                await hosting.stop_embedded_world()
            finally:
                await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    else:
        await router(scope, receive, send)
