"""WebSocket routes: the world gateway at /ws/world/ (docs/protocol.md)."""

from django.urls import URLPattern, URLResolver, path

from worlds.gateway import WorldConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/world/", WorldConsumer.as_asgi()),
]
