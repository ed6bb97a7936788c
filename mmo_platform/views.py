"""Site-wide pages that belong to no single app: the portal home."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    # ``news`` is the hook the live-ops news feed fills; until then the template shows a
    # placeholder card. Keep this view thin: areas add context here, not logic.
    return render(request, "home.html", {"news": []})
