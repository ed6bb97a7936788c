"""Operations adapters: /metrics for Prometheus, the staff-only /ops/ dashboard and its JSON.

/metrics access (Prometheus scrapers cannot log in): a request is allowed when it carries
``Authorization: Bearer <METRICS_TOKEN>`` (if that setting is set), or when it comes straight
from an address in ``METRICS_ALLOWED_CIDRS`` (default loopback only). A request that passed
through a reverse proxy (``X-Forwarded-For`` present) is never trusted by address, because the
proxy's own loopback address would otherwise open the endpoint to the internet.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from liveops import ops_selectors
from liveops.sampling import SERIES
from mmo_platform.metrics import metrics_render


# --- /metrics -----------------------------------------------------------------------------------
def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for cidr in settings.METRICS_ALLOWED_CIDRS:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics_access_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    if "X-Forwarded-For" in request.headers:
        return False
    return _address_allowed(request.META.get("REMOTE_ADDR", ""))


@never_cache
def metrics_endpoint(request: HttpRequest) -> HttpResponse:
    if not metrics_access_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    body, content_type = metrics_render()
    return HttpResponse(body, content_type=content_type)


# --- /ops/ dashboard ----------------------------------------------------------------------------
@never_cache
@login_required
def ops_dashboard(request: HttpRequest) -> HttpResponse:
    """The page an on-call engineer opens first: live charts + status tiles (staff only)."""
    if not request.user.is_staff:
        raise PermissionDenied
    context = {
        "status": ops_selectors.ops_status(),
        "series_names": SERIES,
        "sample_seconds": 15,
    }
    return render(request, "liveops/ops_dashboard.html", context)


class OpsSeriesQuery(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1, max_value=ops_selectors.MAX_SERIES_MINUTES, default=60
    )


class OpsSeriesOutput(serializers.Serializer):
    series = serializers.DictField(
        child=serializers.ListField(allow_null=True),
        help_text='Columns for uPlot: "t" (unix seconds) then one list per figure.',
    )
    status = serializers.DictField(help_text="Shards, backup, verification, alerts.")


class OpsSeriesApi(APIView):
    """Dashboard data: the last ``minutes`` of metric samples plus the status tiles."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="ops_series",
        parameters=[OpenApiParameter("minutes", int, description="Window, 1-1440 (default 60)")],
        responses=OpsSeriesOutput,
        tags=["ops"],
    )
    def get(self, request: Request) -> Response:
        query = OpsSeriesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = {
            "series": ops_selectors.ops_series(minutes=query.validated_data["minutes"]),
            "status": ops_selectors.ops_status(),
        }
        response = Response(OpsSeriesOutput(data).data)
        response["Cache-Control"] = "no-store"
        return response
