"""Account portal pages: profile and security (MFA state, sessions with revoke)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.selectors import account_mfa_state, account_primary_email, user_sessions_list
from accounts.services import account_session_end, account_sessions_end_all
from mmo_platform.errors import NotFound


def _portal_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@login_required
def account_overview(request: HttpRequest) -> HttpResponse:
    user = _portal_user(request)
    context = {
        "account": user,
        "primary_email": account_primary_email(user=user),
        "mfa": account_mfa_state(user=user),
        "sessions": user_sessions_list(user=user, current_session_key=request.session.session_key),
    }
    return render(request, "accounts/overview.html", context)


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _portal_user(request)
    current = request.session.session_key
    try:
        account_session_end(user=user, session_id=session_id)
    except NotFound:
        messages.error(request, "That session no longer exists.")
        return redirect("accounts:overview")
    if current and not _session_still_exists(request):
        # The player ended the session they are using: that is a logout.
        logout(request)
        messages.info(request, "You ended this session and are now signed out.")
        return redirect("account_login")
    messages.success(request, "Session ended. Any game client using it has been signed out.")
    return redirect("accounts:overview")


@login_required
@require_POST
def sessions_end_all(request: HttpRequest) -> HttpResponse:
    ended = account_sessions_end_all(user=_portal_user(request))
    logout(request)
    messages.success(
        request,
        f"Signed out everywhere: {ended} session{'s' if ended != 1 else ''} ended, "
        "every game-client token revoked.",
    )
    return redirect("account_login")


def _session_still_exists(request: HttpRequest) -> bool:
    session_key = request.session.session_key
    return bool(session_key) and request.session.exists(session_key)  # type: ignore[arg-type]
