"""Ends portal sessions of accounts that were suspended or banned after they logged in.

The services already end every session when they restrict an account; this catches a
restriction written some other way, and a suspension imposed while a request was in flight.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from accounts.responses import ACCOUNT_RESTRICTED_CODE


class AccountStatusMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # allauth's headless endpoints run on their own token sessions and refuse in the adapter.
        if request.path.startswith("/_allauth/"):
            return self.get_response(request)
        user = getattr(request, "user", None)
        refusal = user.standing_refusal() if user is not None and user.is_authenticated else None
        if not refusal:
            return self.get_response(request)
        logout(request)
        if request.path.startswith("/api/"):
            body = {"code": ACCOUNT_RESTRICTED_CODE, "message": refusal}
            return JsonResponse(body, status=403)
        messages.error(request, refusal)
        return redirect("account_login")
