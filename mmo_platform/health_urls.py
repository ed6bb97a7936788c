"""/healthz and /readyz (see mmo_platform/health.py). Room below for /metrics (ops)."""

from django.urls import URLPattern, URLResolver, path

from liveops.ops_views import metrics_endpoint
from mmo_platform import health

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus scrape target (loopback/CIDR allow-list or bearer token; liveops/ops_views.py).
    path("metrics", metrics_endpoint, name="metrics"),
]
