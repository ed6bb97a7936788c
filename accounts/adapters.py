"""allauth adapter: the single place where account standing is enforced at login."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        refusal = user.standing_refusal() if isinstance(user, User) else None
        if refusal:
            return self._refuse_login(request, refusal)
        return super().pre_login(request, user, **kwargs)

    def _refuse_login(self, request: HttpRequest, refusal: str) -> HttpResponse:
        if request.path.startswith("/_allauth/"):
            from allauth.headless.base.response import APIResponse

            return APIResponse(
                request, status=403, errors=[{"code": "account_restricted", "message": refusal}]
            )
        messages.error(request, refusal)
        return redirect("account_login")
