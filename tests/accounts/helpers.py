"""Game-client and portal helpers for the accounts tests: real HTTP calls only."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User

APP = "/_allauth/app/v1"
LOGIN_URL = f"{APP}/auth/login"
MFA_URL = f"{APP}/auth/2fa/authenticate"
REFRESH_URL = f"{APP}/tokens/refresh"
SESSION_URL = f"{APP}/auth/session"
SESSIONS_URL = f"{APP}/auth/sessions"
ME_URL = "/api/v1/auth/me"
WS_TICKET_URL = "/api/v1/auth/ws-ticket"
LOGOUT_EVERYWHERE_URL = "/api/v1/auth/logout-everywhere"


def app_login(client: Client, **credentials: str) -> Any:
    """POST the game-client login; returns the response (JSON in ``.json()``)."""
    return client.post(LOGIN_URL, credentials, content_type="application/json")


def app_tokens(client: Client, **credentials: str) -> tuple[str, str]:
    """Log a game client in (no MFA) and return (access_token, refresh_token)."""
    response = app_login(client, **credentials)
    assert response.status_code == 200, response.content
    meta = response.json()["meta"]
    return meta["access_token"], meta["refresh_token"]


def app_refresh(client: Client, refresh_token: str) -> Any:
    return client.post(
        REFRESH_URL, {"refresh_token": refresh_token}, content_type="application/json"
    )


def bearer(access_token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return api


def totp_code(user: User, *, step_offset: int = 0) -> str:
    """The current TOTP code of ``user``'s authenticator, computed with allauth's own helpers."""
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return totp_code_for_secret(decrypt(authenticator.data["secret"]), step_offset=step_offset)


def totp_code_for_secret(secret: str, *, step_offset: int = 0) -> str:
    counter = int(time.time()) // 30 + step_offset
    return format_hotp_value(hotp_value(secret, counter))


def flip_signature_char(token: str) -> str:
    """Change one character of a JWT's signature (a tampered token)."""
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    replacement = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{replacement}{signature[middle + 1 :]}"
