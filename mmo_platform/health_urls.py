"""/healthz, /readyz (and later /metrics): see mmo_platform/health.py."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
