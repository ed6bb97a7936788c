"""Game-client authentication (what Nakama calls sessions) through allauth's headless "app"
API and our DRF endpoints: issue, refresh with rotation, revoke, revoke everywhere, and the
tokens DRF must reject."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from allauth.headless.tokens.strategies.jwt.internal import create_token
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from accounts.tickets import ticket_consume
from tests.accounts.factories import enable_totp
from tests.accounts.helpers import (
    LOGOUT_EVERYWHERE_URL,
    ME_URL,
    MFA_URL,
    SESSION_URL,
    SESSIONS_URL,
    WS_TICKET_URL,
    app_login,
    app_refresh,
    app_tokens,
    bearer,
    flip_signature_char,
    totp_code,
    totp_code_for_secret,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def player():  # type: ignore[no-untyped-def]
    return UserFactory(username="ayla")


def _unverified_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- issue -------------------------------------------------------------------------------------


def test_login_by_username_issues_short_lived_access_and_refresh_token(player) -> None:
    # when
    response = app_login(Client(), username="ayla", password=DEFAULT_PASSWORD)
    # then
    assert response.status_code == 200
    meta = response.json()["meta"]
    access = _unverified_claims(meta["access_token"])
    assert access["token_use"] == "access"
    assert access["exp"] - access["iat"] == 300
    assert _unverified_claims(meta["refresh_token"])["token_use"] == "refresh"
    me = bearer(meta["access_token"]).get(ME_URL)
    assert me.status_code == 200
    assert me.json()["username"] == "ayla"
    assert me.json()["mfa_enabled"] is False


def test_login_by_email_works_too(player) -> None:
    access, _ = app_tokens(Client(), email="ayla@example.test", password=DEFAULT_PASSWORD)
    assert bearer(access).get(ME_URL).json()["username"] == "ayla"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "ayla", "password": "wrong-password"},
        {"username": "nobody", "password": DEFAULT_PASSWORD},
        {"username": "ayla"},
        {"password": DEFAULT_PASSWORD},
    ],
)
def test_bad_credentials_issue_no_token(player, credentials: dict) -> None:
    response = app_login(Client(), **credentials)
    assert response.status_code == 400
    assert "access_token" not in response.json().get("meta", {})


def test_malformed_login_body_is_refused() -> None:
    response = Client().post(
        "/_allauth/app/v1/auth/login", "not json", content_type="application/json"
    )
    assert response.status_code == 400


# --- refresh and rotation --------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token_and_the_old_one_dies(player) -> None:
    client = Client()
    _, first_refresh = app_tokens(client, username="ayla", password=DEFAULT_PASSWORD)
    # when
    response = app_refresh(client, first_refresh)
    # then
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["refresh_token"] != first_refresh
    assert bearer(data["access_token"]).get(ME_URL).status_code == 200
    assert app_refresh(client, first_refresh).status_code == 400  # rotated away: single use
    assert app_refresh(client, data["refresh_token"]).status_code == 200


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 2000])
def test_garbage_refresh_token_is_refused(garbage: str) -> None:
    assert app_refresh(Client(), garbage).status_code == 400


def test_access_token_cannot_be_used_as_refresh_token(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    assert app_refresh(Client(), access).status_code == 400


def test_refresh_token_cannot_be_used_as_access_token(player) -> None:
    _, refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    assert bearer(refresh).get(ME_URL).status_code == 401


# --- rejected tokens ------------------------------------------------------------------------------


def test_tampered_access_token_is_rejected(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    response = bearer(flip_signature_char(access)).get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_token_with_edited_claims_is_rejected(player) -> None:
    other = UserFactory()
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    header, _payload, signature = access.split(".")
    claims = _unverified_claims(access) | {"sub": str(other.pk)}
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert bearer(f"{header}.{forged_payload}.{signature}").get(ME_URL).status_code == 401


def test_token_signed_with_another_key_is_rejected(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = foreign_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    forged = jwt.encode(_unverified_claims(access), pem, algorithm="RS256")
    assert bearer(forged).get(ME_URL).status_code == 401


def test_unsigned_token_is_rejected(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    unsigned = jwt.encode(_unverified_claims(access), None, algorithm="none")
    assert bearer(unsigned).get(ME_URL).status_code == 401


def test_expired_access_token_is_rejected(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    claims = _unverified_claims(access)
    # A genuine token for the same live session, signed by our key, but already expired.
    expired, _ = create_token("access", sub=claims["sub"], sid=claims["sid"], expires_in=-5)
    response = bearer(expired).get(ME_URL)
    assert response.status_code == 401
    assert bearer(access).get(ME_URL).status_code == 200  # the session itself is fine


def test_expired_refresh_token_is_refused(player) -> None:
    _, refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    claims = _unverified_claims(refresh)
    expired, _ = create_token("refresh", sub=claims["sub"], sid=claims["sid"], expires_in=-5)
    assert app_refresh(Client(), expired).status_code == 400


def test_api_without_token_is_unauthenticated() -> None:
    assert Client().get(ME_URL).status_code in (401, 403)
    assert bearer("").get(ME_URL).status_code == 401


# --- revoke ---------------------------------------------------------------------------------------


def test_logout_revokes_access_and_refresh_token_at_once(player) -> None:
    client = Client()
    access, refresh = app_tokens(client, username="ayla", password=DEFAULT_PASSWORD)
    # when
    response = client.delete(SESSION_URL, HTTP_AUTHORIZATION=f"Bearer {access}")
    # then
    assert response.status_code == 401  # allauth: "you are now logged out"
    assert bearer(access).get(ME_URL).status_code == 401
    assert app_refresh(client, refresh).status_code == 400


def test_logout_of_one_client_leaves_the_others_signed_in(player) -> None:
    phone_access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    pc_access, pc_refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    Client().delete(SESSION_URL, HTTP_AUTHORIZATION=f"Bearer {phone_access}")
    assert bearer(pc_access).get(ME_URL).status_code == 200
    assert app_refresh(Client(), pc_refresh).status_code == 200


def test_logout_everywhere_revokes_every_token_and_portal_session(player) -> None:
    first_access, first_refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    second_access, second_refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    browser = Client()
    browser.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    assert browser.get("/account/").status_code == 200
    # when
    response = bearer(first_access).post(LOGOUT_EVERYWHERE_URL)
    # then
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 3}
    for access in (first_access, second_access):
        assert bearer(access).get(ME_URL).status_code == 401
    for refresh in (first_refresh, second_refresh):
        assert app_refresh(Client(), refresh).status_code == 400
    assert browser.get("/account/").status_code == 302  # back to the login page


def test_allauth_session_list_can_end_every_session_too(player) -> None:
    first_access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    second_access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    client = Client()
    listing = client.get(SESSIONS_URL, HTTP_AUTHORIZATION=f"Bearer {first_access}")
    assert listing.status_code == 200
    ids = [session["id"] for session in listing.json()["data"]]
    assert len(ids) == 2
    # when
    client.delete(
        SESSIONS_URL,
        {"sessions": ids},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {first_access}",
    )
    # then
    assert bearer(first_access).get(ME_URL).status_code == 401
    assert bearer(second_access).get(ME_URL).status_code == 401


def test_logout_everywhere_needs_a_token() -> None:
    assert Client().post(LOGOUT_EVERYWHERE_URL).status_code in (401, 403)


# --- MFA for game clients ------------------------------------------------------------------------


def test_mfa_account_needs_a_totp_code_before_tokens_are_issued(player) -> None:
    enable_totp(player)
    client = Client()
    # when: the password alone
    response = app_login(client, username="ayla", password=DEFAULT_PASSWORD)
    # then: no tokens, a pending mfa_authenticate flow and a session token to continue it
    assert response.status_code == 401
    body = response.json()
    assert "access_token" not in body["meta"]
    pending = [flow for flow in body["data"]["flows"] if flow.get("is_pending")]
    assert [flow["id"] for flow in pending] == ["mfa_authenticate"]
    assert set(pending[0]["types"]) == {"totp", "recovery_codes"}
    session_token = body["meta"]["session_token"]
    # when: the TOTP code
    second = client.post(
        MFA_URL,
        {"code": totp_code(player)},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=session_token,
    )
    # then
    assert second.status_code == 200, second.content
    access = second.json()["meta"]["access_token"]
    assert bearer(access).get(ME_URL).json()["mfa_enabled"] is True


@pytest.mark.parametrize("bad_code", ["000000", "12345", "abcdef", ""])
def test_wrong_totp_code_issues_no_token(player, bad_code: str) -> None:
    secret = enable_totp(player)
    if bad_code == "000000" and totp_code_for_secret(secret) == "000000":
        bad_code = "111111"
    client = Client()
    session_token = app_login(client, username="ayla", password=DEFAULT_PASSWORD).json()["meta"][
        "session_token"
    ]
    response = client.post(
        MFA_URL,
        {"code": bad_code},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=session_token,
    )
    assert response.status_code == 400
    assert "access_token" not in response.json().get("meta", {})


def test_totp_code_is_single_use(player) -> None:
    enable_totp(player)
    code = totp_code(player)
    first, second = Client(), Client()
    first_token = app_login(first, username="ayla", password=DEFAULT_PASSWORD).json()["meta"][
        "session_token"
    ]
    second_token = app_login(second, username="ayla", password=DEFAULT_PASSWORD).json()["meta"][
        "session_token"
    ]
    ok = first.post(
        MFA_URL, {"code": code}, content_type="application/json", HTTP_X_SESSION_TOKEN=first_token
    )
    replay = second.post(
        MFA_URL, {"code": code}, content_type="application/json", HTTP_X_SESSION_TOKEN=second_token
    )
    assert ok.status_code == 200
    assert replay.status_code == 400


# --- WebSocket tickets ---------------------------------------------------------------------------


def test_ws_ticket_is_issued_for_an_access_token_and_is_single_use(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    # when
    response = bearer(access).post(WS_TICKET_URL)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 30
    assert ticket_consume(purpose="ws", ticket=body["ticket"]) == {"user_id": player.pk}
    assert ticket_consume(purpose="ws", ticket=body["ticket"]) is None


def test_ws_ticket_needs_an_access_token() -> None:
    assert Client().post(WS_TICKET_URL).status_code in (401, 403)
    assert bearer("nonsense").post(WS_TICKET_URL).status_code == 401


def test_ws_ticket_is_refused_with_a_revoked_token(player) -> None:
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    Client().delete(SESSION_URL, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer(access).post(WS_TICKET_URL).status_code == 401
