"""WebSocket routes. The world gateway (worlds.routing) owns /ws/world/."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
