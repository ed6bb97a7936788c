"""The web portal's account flows end to end through real HTTP: sign-up, email verification,
login by username or email, TOTP enrolment, login with TOTP, then the same account in the game
client; password reset and change; logout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.accounts.helpers import ME_URL, MFA_URL, app_login, bearer, totp_code_for_secret
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-pass-phrase-7"


def _link_in_last_mail(pattern: str) -> str:
    match = re.search(pattern, mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0)


def _sign_up(client: Client, username: str = "newhero") -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": username,
            "email": f"{username}@example.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == "/accounts/confirm-email/"


def _reauthenticate(client: Client, password: str = NEW_PASSWORD) -> None:
    """allauth asks for the password again before security changes such as enabling TOTP."""
    response = client.post("/accounts/reauthenticate/", {"password": password})
    assert response.status_code == 302, response.content


def _verify_email(client: Client) -> None:
    link = _link_in_last_mail(r"/accounts/confirm-email/[^/\s]+/")
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302


def test_sign_up_verify_login_enrol_totp_and_login_with_totp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = Client()
    # sign-up: account created, but no login until the email is verified
    _sign_up(client)
    assert User.objects.filter(username="newhero").exists()
    assert "Confirm" in mail.outbox[-1].subject or "confirm" in mail.outbox[-1].body
    blocked = Client().post("/accounts/login/", {"login": "newhero", "password": NEW_PASSWORD})
    assert blocked["Location"] == "/accounts/confirm-email/"
    assert not blocked.wsgi_request.user.is_authenticated

    # verify: the link from the email confirms and (same browser) signs in
    _verify_email(client)
    assert client.get("/account/").status_code == 200

    # logout, then login by username and by email
    client.post("/accounts/logout/")
    assert client.get("/account/").status_code == 302
    client.post("/accounts/login/", {"login": "newhero", "password": NEW_PASSWORD})
    assert client.get("/account/").status_code == 200
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": "newhero@example.test", "password": NEW_PASSWORD})
    assert client.get("/account/").status_code == 200

    # MFA enrolment: confirm the password, then the activation page shows a secret; a code
    # from it switches TOTP on
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith(
        "/accounts/reauthenticate/"
    )
    _reauthenticate(client)
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    enrol = client.post("/accounts/2fa/totp/activate/", {"code": totp_code_for_secret(secret)})
    assert enrol.status_code == 302
    user = User.objects.get(username="newhero")
    assert set(Authenticator.objects.filter(user=user).values_list("type", flat=True)) == {
        "totp",
        "recovery_codes",
    }
    assert "Two-factor sign-in" in client.get("/account/").content.decode()

    # login again: the password alone is not enough any more
    client.post("/accounts/logout/")
    first_step = client.post("/accounts/login/", {"login": "newhero", "password": NEW_PASSWORD})
    assert first_step["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/account/").status_code == 302
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200 and not wrong.wsgi_request.user.is_authenticated
    done = client.post(
        "/accounts/2fa/authenticate/", {"code": totp_code_for_secret(secret, step_offset=0)}
    )
    assert done.status_code == 302
    assert client.get("/account/").status_code == 200

    # the same account in the game client: password, then the next TOTP code (the current
    # one was just used and codes are single use, so the player waits for the next period)
    game = Client()
    pending = app_login(game, username="newhero", password=NEW_PASSWORD)
    assert pending.status_code == 401
    real_time = time.time
    monkeypatch.setattr(totp_auth, "time", SimpleNamespace(time=lambda: real_time() + 30))
    tokens = game.post(
        MFA_URL,
        {"code": totp_code_for_secret(secret, step_offset=1)},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=pending.json()["meta"]["session_token"],
    )
    assert tokens.status_code == 200, tokens.content
    me = bearer(tokens.json()["meta"]["access_token"]).get(ME_URL)
    assert me.json()["mfa_enabled"] is True


def test_recovery_code_signs_in_when_the_phone_is_lost() -> None:
    client = Client()
    _sign_up(client, "forgetful")
    _verify_email(client)
    _reauthenticate(client)
    secret = client.get("/accounts/2fa/totp/activate/").context["form"].secret
    client.post("/accounts/2fa/totp/activate/", {"code": totp_code_for_secret(secret)})
    codes = client.get("/accounts/2fa/recovery-codes/").context["unused_codes"]
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": "forgetful", "password": NEW_PASSWORD})
    # when
    client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    # then
    assert client.get("/account/").status_code == 200


def test_password_reset_by_email() -> None:
    UserFactory(username="ayla")
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "ayla@example.test"})
    assert response.status_code == 302
    link = _link_in_last_mail(r"/accounts/password/reset/key/[^\s]+/")
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    # when
    done = client.post(set_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    # then
    assert done.status_code == 302
    old = Client().post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    assert not old.wsgi_request.user.is_authenticated
    assert app_login(Client(), username="ayla", password=NEW_PASSWORD).status_code == 200


def test_password_reset_for_unknown_email_reveals_nothing() -> None:
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"


def test_password_change_needs_the_old_password() -> None:
    UserFactory(username="ayla")
    client = Client()
    client.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not-it", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200  # form redisplayed with an error
    right = client.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert right.status_code == 302
    assert app_login(Client(), username="ayla", password=NEW_PASSWORD).status_code == 200
    assert app_login(Client(), username="ayla", password=DEFAULT_PASSWORD).status_code == 400


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "not-an-email", "valid email"),
        ("password2", "something-else-entirely", "same password"),
        ("password1", "123", "too short"),
        ("username", "bad name!", "username"),
    ],
)
def test_sign_up_rejects_bad_input(field: str, value: str, error: str) -> None:
    data = {
        "username": "newhero",
        "email": "newhero@example.test",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    if field == "password1":
        data["password2"] = value
    data[field] = value
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 200
    assert error in response.content.decode().lower()
    assert not User.objects.filter(username="newhero").exists()


def test_sign_up_refuses_a_taken_email() -> None:
    UserFactory(username="ayla")
    response = Client().post(
        "/accounts/signup/",
        {
            "username": "other",
            "email": "ayla@example.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    # allauth hides whether the address is registered: same answer as a fresh sign-up, no second
    # account, and the owner of the address gets a warning mail instead
    assert response.status_code == 302
    assert User.objects.filter(email__iexact="ayla@example.test").count() == 1
    assert not User.objects.filter(username="other").exists()
    assert mail.outbox[-1].to == ["ayla@example.test"]
    assert "already" in mail.outbox[-1].body.lower()


def test_embedded_mode_prints_email_to_the_console() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "mmo_platform.settings.embedded"
    env.pop("EMAIL_BACKEND", None)
    script = (
        "import django;django.setup();"
        "from django.conf import settings;print(settings.EMAIL_BACKEND)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "django.core.mail.backends.console.EmailBackend", out.stderr
