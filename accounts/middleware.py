"""Ends portal sessions of accounts that were suspended or banned after they logged in."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class AccountStatusMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        refusal = user.standing_refusal() if user is not None and user.is_authenticated else None
        if refusal and not request.path.startswith("/_allauth/"):
            logout(request)
            messages.error(request, refusal)
            return redirect("account_login")
        return self.get_response(request)
