"""The web portal: layout, home, allauth pages in our layout, the account page with sessions and
revoke, and everything served locally (no CDN)."""

from __future__ import annotations

import re

import pytest
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.test import Client

from tests.accounts.factories import enable_totp
from tests.accounts.helpers import ME_URL, app_tokens, bearer
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NAV_LINKS = ["/play", "/characters/", "/shop/", "/leaderboards/", "/account/"]
PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
]


def _logged_in(username: str = "ayla") -> Client:
    UserFactory(username=username)
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    response = client.post("/accounts/login/", {"login": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("url", PAGES)
def test_public_pages_render_in_the_portal_layout(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/css/portal.css" in html
    for link in NAV_LINKS:
        assert f'href="{link}"' in html
    assert "Sign in" in html


@pytest.mark.parametrize("url", PAGES)
def test_pages_load_nothing_from_other_hosts(url: str) -> None:
    html = Client().get(url).content.decode()
    external = re.findall(r'(?:src|href)="(?:https?:)?//[^"]+"', html)
    assert external == []
    assert "@import" not in html


def test_stylesheet_is_served_locally_and_imports_nothing_remote() -> None:
    response = Client().get("/static/css/portal.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    css = (settings.BASE_DIR / "static" / "css" / "portal.css").read_text()
    assert "--gold" in css
    assert "http://" not in css and "https://" not in css
    assert "@import" not in css and "@font-face" not in css


def test_home_shows_news_placeholder_and_sign_up_call_to_action() -> None:
    html = Client().get("/").content.decode()
    assert "News from the realm" in html
    assert "No news yet" in html
    assert 'href="/accounts/signup/"' in html


def test_page_titles_name_the_page_and_the_site() -> None:
    assert "<title>Home · MMO Platform</title>" in Client().get("/").content.decode()
    login_title = re.search(
        r"<title>(.*?)</title>", Client().get("/accounts/login/").content.decode(), re.S
    )
    assert login_title is not None
    assert " ".join(login_title.group(1).split()) == "Sign in · MMO Platform"


def test_home_greets_a_signed_in_player() -> None:
    html = _logged_in().get("/").content.decode()
    assert "Signed in as <strong>ayla</strong>" in html
    assert "Play now" in html


def test_account_page_needs_login() -> None:
    response = Client().get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_account_page_shows_profile_standing_mfa_and_sessions() -> None:
    client = _logged_in()
    app_tokens(
        Client(HTTP_USER_AGENT="DragonClient/1.4"), username="ayla", password=DEFAULT_PASSWORD
    )
    # when
    html = client.get("/account/").content.decode()
    # then
    assert "ayla@example.test" in html and "Verified" in html
    assert "In good standing" in html
    assert "Set up authenticator app" in html
    assert "Game client" in html and "DragonClient/1.4" in html
    assert "Firefox/140.0" in html and "This browser" in html
    assert "Log out everywhere" in html


def test_account_page_shows_mfa_on_and_recovery_codes_left() -> None:
    client = _logged_in()
    from accounts.models import User

    enable_totp(User.objects.get(username="ayla"))
    html = client.get("/account/").content.decode()
    assert "Recovery codes left: <strong>10</strong>" in html
    assert "Turn off" in html


def test_ending_a_game_client_session_revokes_its_token() -> None:
    client = _logged_in()
    access, _ = app_tokens(
        Client(HTTP_USER_AGENT="DragonClient/1.4"), username="ayla", password=DEFAULT_PASSWORD
    )
    game_session = UserSession.objects.get(user_agent="DragonClient/1.4")
    # when
    response = client.post(f"/account/sessions/{game_session.pk}/end/", follow=True)
    # then
    assert "Session ended" in response.content.decode()
    assert bearer(access).get(ME_URL).status_code == 401
    assert client.get("/account/").status_code == 200  # the browser stays signed in


def test_ending_the_current_session_signs_out() -> None:
    client = _logged_in()
    own = UserSession.objects.get(user_agent__contains="Firefox")
    response = client.post(f"/account/sessions/{own.pk}/end/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/account/").status_code == 302


def test_cannot_end_someone_elses_session() -> None:
    client = _logged_in()
    other = _logged_in("bryn")
    theirs = UserSession.objects.get(user__username="bryn")
    # when
    response = client.post(f"/account/sessions/{theirs.pk}/end/", follow=True)
    # then
    assert "no longer exists" in response.content.decode()
    assert other.get("/account/").status_code == 200


def test_ending_a_session_needs_post() -> None:
    client = _logged_in()
    own = UserSession.objects.get(user_agent__contains="Firefox")
    assert client.get(f"/account/sessions/{own.pk}/end/").status_code == 405
    assert client.get("/account/").status_code == 200


def test_log_out_everywhere_from_the_portal() -> None:
    client = _logged_in()
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    # when
    response = client.post("/account/sessions/end-all/", follow=True)
    # then
    assert "Signed out everywhere: 2 sessions ended" in response.content.decode()
    assert bearer(access).get(ME_URL).status_code == 401
    assert client.get("/account/").status_code == 302
    assert UserSession.objects.filter(user__username="ayla").count() == 0


def test_log_out_everywhere_is_csrf_protected() -> None:
    UserFactory(username="ayla")
    client = Client(enforce_csrf_checks=True)
    client.login(username="ayla", password=DEFAULT_PASSWORD)
    assert client.post("/account/sessions/end-all/").status_code == 403


@pytest.mark.parametrize(
    "url",
    ["/accounts/email/", "/accounts/password/change/", "/accounts/2fa/", "/accounts/sessions/"],
)
def test_allauth_management_pages_use_the_account_tabs(url: str) -> None:
    html = _logged_in().get(url).content.decode()
    assert 'class="subnav"' in html
    assert 'class="is-active"' in html
