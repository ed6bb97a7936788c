"""Suspended and banned accounts are refused everywhere — portal login, game-client login, MFA
step, token refresh, API calls, WebSocket tickets, world entry — and told why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AccountStatus, User
from accounts.services import (
    account_assert_may_play,
    account_ban,
    account_reinstate,
    account_suspend,
)
from accounts.signals import account_standing_changed
from mmo_platform.errors import AccountRestricted, Conflict, ValidationFailed
from tests.accounts.factories import enable_totp
from tests.accounts.helpers import (
    ME_URL,
    MFA_URL,
    WS_TICKET_URL,
    app_login,
    app_refresh,
    app_tokens,
    bearer,
    totp_code,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

BAN_REASON = "Gold selling in trade chat"
SUSPEND_REASON = "Harassment in guild chat"


@pytest.fixture
def player() -> User:
    return UserFactory(username="ayla")


@pytest.fixture
def gm() -> User:
    return UserFactory(username="gm", is_staff=True)


def _restrict(kind: str, player: User, gm: User) -> str:
    """Apply ``kind`` through the service and return the reason the player must see."""
    if kind == "banned":
        account_ban(user=player, reason=BAN_REASON, actor=gm)
        return BAN_REASON
    account_suspend(
        user=player, until=timezone.now() + timedelta(days=3), reason=SUSPEND_REASON, actor=gm
    )
    return SUSPEND_REASON


def _restrict_without_service(kind: str, player: User) -> str:
    """A restriction written straight to the row (data fix, SQL): no sessions are ended, so
    every layer must still check standing on its own."""
    if kind == "banned":
        User.objects.filter(pk=player.pk).update(status="banned", status_reason=BAN_REASON)
        return BAN_REASON
    User.objects.filter(pk=player.pk).update(
        status="suspended",
        status_reason=SUSPEND_REASON,
        suspended_until=timezone.now() + timedelta(hours=5),
    )
    return SUSPEND_REASON


def _assert_restricted_headless(response, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["errors"][0]["code"] == "account_restricted"
    assert reason in body["errors"][0]["message"]
    assert "access_token" not in body.get("meta", {})


def _assert_restricted_api(response, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "account_restricted"
    assert reason in response.json()["message"]


RESTRICTIONS = ["suspended", "banned"]


@pytest.mark.parametrize("kind", RESTRICTIONS)
def test_portal_login_is_refused_with_the_reason(player: User, gm: User, kind: str) -> None:
    reason = _restrict(kind, player, gm)
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD}, follow=True
    )
    assert reason in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated
    assert client.get("/account/").status_code == 302


@pytest.mark.parametrize("kind", RESTRICTIONS)
def test_game_client_login_is_refused_with_the_reason(player: User, gm: User, kind: str) -> None:
    reason = _restrict(kind, player, gm)
    response = app_login(Client(), username="ayla", password=DEFAULT_PASSWORD)
    _assert_restricted_headless(response, reason)


def test_suspension_message_says_until_when(player: User, gm: User) -> None:
    until = timezone.now() + timedelta(days=3)
    account_suspend(user=player, until=until, reason=SUSPEND_REASON, actor=gm)
    response = app_login(Client(), username="ayla", password=DEFAULT_PASSWORD)
    assert until.strftime("%Y-%m-%d %H:%M UTC") in response.json()["errors"][0]["message"]


def test_wrong_password_on_a_banned_account_does_not_reveal_the_ban(player: User, gm: User) -> None:
    account_ban(user=player, reason=BAN_REASON, actor=gm)
    response = app_login(Client(), username="ayla", password="not-the-password")
    assert response.status_code == 400
    assert BAN_REASON not in response.content.decode()


@pytest.mark.parametrize("kind", RESTRICTIONS)
def test_restriction_revokes_issued_tokens_and_refusals_carry_the_reason(
    player: User, gm: User, kind: str
) -> None:
    access, refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    # when
    reason = _restrict(kind, player, gm)
    # then
    _assert_restricted_api(bearer(access).get(ME_URL), reason)
    _assert_restricted_api(bearer(access).post(WS_TICKET_URL), reason)
    _assert_restricted_headless(app_refresh(Client(), refresh), reason)


@pytest.mark.parametrize("kind", RESTRICTIONS)
def test_restriction_written_without_the_service_is_still_enforced(player: User, kind: str) -> None:
    access, refresh = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    browser = Client()
    browser.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    # when
    reason = _restrict_without_service(kind, player)
    # then: the sessions still exist, yet every door is shut with the reason
    _assert_restricted_api(bearer(access).get(ME_URL), reason)
    _assert_restricted_api(bearer(access).post(WS_TICKET_URL), reason)
    _assert_restricted_headless(app_refresh(Client(), refresh), reason)
    page = browser.get("/account/", follow=True)
    assert reason in page.content.decode()
    assert not page.wsgi_request.user.is_authenticated
    api_with_cookie = browser.get(ME_URL)
    assert api_with_cookie.status_code in (401, 403)


def test_session_cookie_api_call_of_a_restricted_account_gets_json(player: User) -> None:
    browser = Client()
    browser.post("/accounts/login/", {"login": "ayla", "password": DEFAULT_PASSWORD})
    _restrict_without_service("banned", player)
    _assert_restricted_api(browser.get(ME_URL), BAN_REASON)


def test_account_banned_between_password_and_totp_step_gets_no_tokens(player: User) -> None:
    enable_totp(player)
    client = Client()
    first = app_login(client, username="ayla", password=DEFAULT_PASSWORD)
    assert first.status_code == 401  # TOTP pending
    _restrict_without_service("banned", player)
    # when
    second = client.post(
        MFA_URL,
        {"code": totp_code(player)},
        content_type="application/json",
        HTTP_X_SESSION_TOKEN=first.json()["meta"]["session_token"],
    )
    # then
    _assert_restricted_headless(second, BAN_REASON)


def test_restricted_mfa_account_is_refused_before_the_totp_prompt(player: User, gm: User) -> None:
    enable_totp(player)
    account_ban(user=player, reason=BAN_REASON, actor=gm)
    _assert_restricted_headless(
        app_login(Client(), username="ayla", password=DEFAULT_PASSWORD), BAN_REASON
    )


@pytest.mark.parametrize("kind", RESTRICTIONS)
def test_account_assert_may_play_raises_with_the_reason(player: User, gm: User, kind: str) -> None:
    reason = _restrict(kind, player, gm)
    with pytest.raises(AccountRestricted) as raised:
        account_assert_may_play(player)
    assert reason in raised.value.message
    assert raised.value.code == "account_restricted"


def test_account_assert_may_play_passes_for_active_accounts(player: User) -> None:
    account_assert_may_play(player)  # no exception


def test_expired_suspension_no_longer_blocks(player: User) -> None:
    User.objects.filter(pk=player.pk).update(
        status="suspended",
        status_reason=SUSPEND_REASON,
        suspended_until=timezone.now() - timedelta(minutes=1),
    )
    player.refresh_from_db()
    account_assert_may_play(player)
    assert app_login(Client(), username="ayla", password=DEFAULT_PASSWORD).status_code == 200


def test_reinstated_account_can_log_in_again(player: User, gm: User) -> None:
    account_ban(user=player, reason=BAN_REASON, actor=gm)
    # when
    account_reinstate(user=player, actor=gm)
    # then
    player.refresh_from_db()
    assert (player.status, player.status_reason, player.suspended_until) == ("active", "", None)
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    assert bearer(access).get(ME_URL).status_code == 200


# --- service input validation ---------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_ban_needs_a_reason_of_sane_length(player: User, gm: User, reason: str) -> None:
    with pytest.raises(ValidationFailed):
        account_ban(user=player, reason=reason, actor=gm)
    player.refresh_from_db()
    assert player.status == AccountStatus.ACTIVE


def test_suspension_must_end_in_the_future(player: User, gm: User) -> None:
    with pytest.raises(ValidationFailed) as raised:
        account_suspend(
            user=player, until=timezone.now() - timedelta(hours=1), reason="x", actor=gm
        )
    assert raised.value.code == "suspension_in_past"


def test_suspension_end_must_be_timezone_aware(player: User, gm: User) -> None:
    naive = timezone.now().replace(tzinfo=None) + timedelta(days=1)
    with pytest.raises(ValidationFailed):
        account_suspend(user=player, until=naive, reason="x", actor=gm)


def test_suspending_a_banned_account_is_refused_and_keeps_the_ban(player: User, gm: User) -> None:
    account_ban(user=player, reason=BAN_REASON, actor=gm)
    with pytest.raises(Conflict) as raised:
        account_suspend(
            user=player, until=timezone.now() + timedelta(hours=1), reason="x", actor=gm
        )
    assert raised.value.code == "account_banned"
    player.refresh_from_db()
    assert (player.status, player.status_reason, player.suspended_until) == (
        AccountStatus.BANNED,
        BAN_REASON,
        None,
    )


def test_suspending_a_suspended_account_sets_the_new_end(player: User, gm: User) -> None:
    account_suspend(user=player, until=timezone.now() + timedelta(days=7), reason="a", actor=gm)
    shorter = timezone.now() + timedelta(hours=1)
    account_suspend(user=player, until=shorter, reason="appeal upheld in part", actor=gm)
    player.refresh_from_db()
    assert (player.suspended_until, player.status_reason) == (shorter, "appeal upheld in part")


def test_staff_cannot_restrict_themselves(gm: User) -> None:
    with pytest.raises(ValidationFailed) as raised:
        account_ban(user=gm, reason="oops", actor=gm)
    assert raised.value.code == "self_restriction"


def test_standing_change_is_announced_after_commit(
    player: User, gm: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    received: list[dict] = []

    def receiver(sender, **kwargs) -> None:  # type: ignore[no-untyped-def]
        received.append(kwargs)

    account_standing_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            account_ban(user=player, reason=BAN_REASON, actor=gm)
    finally:
        account_standing_changed.disconnect(receiver)
    assert len(received) == 1
    assert received[0]["user"].pk == player.pk
    assert (received[0]["status"], received[0]["reason"], received[0]["actor"]) == (
        "banned",
        BAN_REASON,
        gm,
    )
