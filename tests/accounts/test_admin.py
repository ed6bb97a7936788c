"""Admin: standing changes go through the suspend/ban/reinstate actions (and so the services),
never through editable fields."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.accounts.helpers import ME_URL, app_tokens, bearer
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def staff_client() -> Client:
    UserFactory(username="gm", is_staff=True, is_superuser=True)
    client = Client()
    client.post("/accounts/login/", {"login": "gm", "password": DEFAULT_PASSWORD})
    return client


def _action(client: Client, action: str, users: list[User], **extra: str):  # type: ignore[no-untyped-def]
    data = {"action": action, "_selected_action": [str(u.pk) for u in users], **extra}
    return client.post(CHANGELIST, data)


def test_admin_login_goes_through_allauth() -> None:
    response = Client().get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_suspend_action_asks_for_reason_and_duration_then_applies(staff_client: Client) -> None:
    player = UserFactory(username="ayla")
    access, _ = app_tokens(Client(), username="ayla", password=DEFAULT_PASSWORD)
    # when: first the confirmation page
    page = _action(staff_client, "suspend_accounts", [player])
    # then
    assert page.status_code == 200
    assert "Suspend accounts" in page.content.decode()
    player.refresh_from_db()
    assert player.status == "active"
    # when: confirmed with a reason and a duration
    done = _action(
        staff_client, "suspend_accounts", [player], apply="1", reason="Spamming", hours="24"
    )
    # then
    assert done.status_code == 302
    player.refresh_from_db()
    assert player.status == "suspended"
    assert player.status_reason == "Spamming"
    assert player.suspended_until is not None
    hours_left = (player.suspended_until - timezone.now()).total_seconds() / 3600
    assert 23.9 < hours_left <= 24
    response = bearer(access).get(ME_URL)
    assert response.status_code == 403 and "Spamming" in response.json()["message"]


def test_ban_action_without_a_reason_changes_nothing(staff_client: Client) -> None:
    player = UserFactory(username="ayla")
    page = _action(staff_client, "ban_accounts", [player], apply="1", reason="")
    assert page.status_code == 200
    assert "This field is required" in page.content.decode()
    player.refresh_from_db()
    assert player.status == "active"


def test_ban_and_reinstate_actions(staff_client: Client) -> None:
    first, second = UserFactory(), UserFactory()
    _action(staff_client, "ban_accounts", [first, second], apply="1", reason="Botting")
    assert set(User.objects.filter(status="banned").values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    _action(staff_client, "reinstate_accounts", [first])
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "banned")


def test_staff_cannot_ban_themselves_through_the_admin(staff_client: Client) -> None:
    gm = User.objects.get(username="gm")
    response = _action(staff_client, "ban_accounts", [gm], apply="1", reason="test")
    assert response.status_code == 302
    gm.refresh_from_db()
    assert gm.status == "active"


def test_status_fields_are_read_only_in_the_change_form(staff_client: Client) -> None:
    player = UserFactory(username="ayla")
    html = staff_client.get(f"{CHANGELIST}{player.pk}/change/").content.decode()
    assert 'name="status"' not in html
    assert 'name="status_reason"' not in html
    assert "Game standing" in html
