"""/healthz and /readyz (see mmo_platform/health.py). Room below for /metrics (ops)."""

from django.urls import URLPattern, URLResolver, path

from mmo_platform import health

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
