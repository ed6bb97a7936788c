"""Site-wide pages that belong to no single app: the portal home and the error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt


def home(request: HttpRequest) -> HttpResponse:
    # ``news`` is the hook the live-ops news feed fills; until then the template shows a
    # placeholder card. Keep this view thin: areas add context here, not logic.
    return render(request, "home.html", {"news": []})


API_PREFIXES = ("/api/", "/_allauth/")


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


@csrf_exempt  # answers 404 to every method; CSRF would turn an unknown POST into an HTML 403
def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Last route under /api/v1/: an unknown API path answers in the API's error shape, also
    in DEBUG (where Django would otherwise show its HTML technical 404 page)."""
    return JsonResponse(
        {"code": "not_found", "message": f"no API endpoint at {request.path}"}, status=404
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return api_not_found(request)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Renders no template context processors: whatever failed may fail again in them."""
    if is_api_request(request):
        return JsonResponse(
            {"code": "server_error", "message": "internal error; it has been logged"}, status=500
        )
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: API clients get the API's error shape, browsers Django's page."""
    if is_api_request(request):
        return JsonResponse(
            {"code": "csrf_failed", "message": f"CSRF check failed: {reason}"}, status=403
        )
    return django_csrf_failure(request, reason)
