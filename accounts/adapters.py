"""allauth adapter: where account standing is enforced for every login path.

``pre_login`` refuses before any further stage (so a banned player is not asked for a TOTP
code first); ``login`` refuses again at the moment of logging in, which covers an account
restricted between the password step and the MFA step.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import clear_authentication_records
from allauth.account.internal.stagekit import clear_login
from allauth.core.exceptions import ImmediateHttpResponse
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import User
from accounts.responses import headless_restricted_response


class AccountAdapter(DefaultAccountAdapter):
    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        _refuse_if_restricted(request, user)
        return super().pre_login(request, user, **kwargs)

    def login(self, request: HttpRequest, user: Any) -> None:
        _refuse_if_restricted(request, user)
        super().login(request, user)


def _refuse_if_restricted(request: HttpRequest, user: Any) -> None:
    refusal = user.standing_refusal() if isinstance(user, User) else None
    if not refusal:
        return
    # Forget the half-finished login so no session (or session token) outlives the refusal.
    clear_authentication_records(request)
    clear_login(request)
    if _is_headless(request):
        # Raised, not returned: allauth's headless login view would replace a returned
        # response with a generic 401 and the reason would be lost.
        raise ImmediateHttpResponse(headless_restricted_response(request, refusal))
    messages.error(request, refusal)
    raise ImmediateHttpResponse(redirect("account_login"))


def _is_headless(request: HttpRequest) -> bool:
    allauth_state = getattr(request, "allauth", None)
    return getattr(allauth_state, "headless", None) is not None
