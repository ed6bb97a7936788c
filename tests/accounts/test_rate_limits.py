"""allauth's rate limits guard the game-client and portal login and sign-up."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.accounts.helpers import LOGIN_URL, app_login
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/_allauth/app/v1/auth/signup"


@pytest.fixture(autouse=True)
def _player() -> None:
    UserFactory(username="ayla")


@override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip,3/5m/key"})
def test_failed_game_client_logins_lock_the_account_out_even_with_the_right_password() -> None:
    client = Client()
    for _ in range(3):
        assert app_login(client, username="ayla", password="guess").status_code == 400
    # when: the right password, after too many failures
    response = app_login(client, username="ayla", password=DEFAULT_PASSWORD)
    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_login_attempts"
    assert "access_token" not in response.json().get("meta", {})


@override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip,3/5m/key"})
def test_lockout_is_per_account_key_not_global() -> None:
    UserFactory(username="bryn")
    for _ in range(3):
        app_login(Client(REMOTE_ADDR="10.0.0.1"), username="ayla", password="guess")
    response = app_login(Client(REMOTE_ADDR="10.0.0.2"), username="bryn", password=DEFAULT_PASSWORD)
    assert response.status_code == 200


@override_settings(ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip,3/5m/key"})
def test_failed_portal_logins_are_limited_too() -> None:
    client = Client()
    for _ in range(3):
        client.post("/accounts/login/", {"login": "ayla", "password": "guess"})
    response = client.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200  # the form again, with the error
    assert "Too many failed login attempts" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


@override_settings(ACCOUNT_RATE_LIMITS={"login": "2/m/ip"})
def test_login_requests_per_ip_are_limited_with_429() -> None:
    client = Client()
    for _ in range(2):
        app_login(client, username="ayla", password="guess")
    response = client.post(
        LOGIN_URL,
        {"username": "ayla", "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429


@override_settings(ACCOUNT_RATE_LIMITS={"login": "2/m/ip"})
def test_portal_login_requests_per_ip_are_limited_with_429() -> None:
    client = Client()
    for _ in range(2):
        client.post("/accounts/login/", {"login": "ayla", "password": "guess"})
    response = client.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429


@override_settings(ACCOUNT_RATE_LIMITS={"signup": "1/m/ip"})
def test_signups_per_ip_are_limited() -> None:
    client = Client()
    first = client.post(
        SIGNUP_URL,
        {"username": "new1", "email": "new1@example.test", "password": "a-long-pass-phrase-1"},
        content_type="application/json",
    )
    assert first.status_code in (200, 401)  # 401 = created, email verification pending
    second = Client().post(
        SIGNUP_URL,
        {"username": "new2", "email": "new2@example.test", "password": "a-long-pass-phrase-2"},
        content_type="application/json",
    )
    assert second.status_code == 429
