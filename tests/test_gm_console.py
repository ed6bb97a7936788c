"""GM console (Django admin): bad input in its forms is a form error with nothing written, and
every GM action that changes something leaves an admin-log record (who, what, why)."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from characters.admin import CharacterAdminForm
from liveops.leaderboard_services import leaderboard_definition_check
from liveops.models import Leaderboard, OpsAlert
from mmo_platform.errors import ValidationFailed
from tests.characters.factories import CharacterFactory, ShardFactory
from tests.factories import UserFactory
from worlds.admin import ShardAdminForm

pytestmark = pytest.mark.django_db

VALID_APPEARANCE = {"body": 1, "hair": 1, "color": "ember"}


@pytest.fixture
def gm() -> User:
    return UserFactory(username="gm", is_staff=True, is_superuser=True)


@pytest.fixture
def gm_client(gm: User) -> Client:
    client = Client()
    client.force_login(gm)
    return client


def _change_url(obj: object) -> str:
    meta = obj._meta  # type: ignore[attr-defined]
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "appearance",
    [
        {"body": "<script>alert(4)</script>", "hair": 1, "color": "ember"},
        {"body": 1, "hair": 10**23, "color": "ember"},
        {"body": 1, "hair": 1, "color": "ember", "wings": True},
        ["<script>", 1],
    ],
)
def test_character_appearance_edit_follows_the_creation_rules(appearance: object) -> None:
    character = CharacterFactory(appearance=VALID_APPEARANCE)

    form = CharacterAdminForm(data={"appearance": json.dumps(appearance)}, instance=character)

    assert not form.is_valid()
    assert "appearance" in form.errors


def test_character_owner_cannot_be_changed_in_the_admin(gm_client: Client) -> None:
    character = CharacterFactory(appearance=VALID_APPEARANCE)
    owner, stranger = character.account, UserFactory()

    response = gm_client.post(
        _change_url(character),
        {"appearance": json.dumps(VALID_APPEARANCE), "account": stranger.pk},
    )

    assert response.status_code == 302
    character.refresh_from_db()
    assert character.account_id == owner.pk


def test_suspension_is_recorded_with_actor_and_reason(gm_client: Client, gm: User) -> None:
    player = UserFactory()

    gm_client.post(
        "/admin/accounts/user/",
        {
            "action": "suspend_accounts",
            "_selected_action": [player.pk],
            "apply": "1",
            "reason": "Spamming",
            "hours": "24",
        },
    )

    entry = LogEntry.objects.get(object_id=str(player.pk))
    assert entry.user_id == gm.pk
    assert "suspended" in entry.get_change_message() and "Spamming" in entry.change_message


@pytest.mark.parametrize("reason", ["bell\x07", "reversed \u202etext", "zero\u200bwidth"])
def test_reason_with_hidden_characters_is_refused(gm_client: Client, reason: str) -> None:
    player = UserFactory()

    page = gm_client.post(
        "/admin/accounts/user/",
        {
            "action": "ban_accounts",
            "_selected_action": [player.pk],
            "apply": "1",
            "reason": reason,
        },
    )

    assert page.status_code == 200
    assert "invisible formatting characters" in page.content.decode()
    player.refresh_from_db()
    assert player.status == "active"
    assert not LogEntry.objects.exists()


def test_shard_status_actions_are_recorded(gm_client: Client, gm: User) -> None:
    shard = ShardFactory()

    gm_client.post(
        reverse("admin:worlds_shard_changelist"),
        {"action": "drain", "_selected_action": [shard.pk]},
    )

    entry = LogEntry.objects.get(object_id=str(shard.pk))
    assert entry.user_id == gm.pk and "draining" in entry.change_message


@pytest.mark.parametrize(
    ("zones", "ws_url"),
    [
        ('"abc"', "/ws/world/"),
        ('{"a": 1}', "/ws/world/"),
        ("[1, 2]", "/ws/world/"),
        ('["no-such-zone"]', "/ws/world/"),
        ("[]", "javascript:alert(1)"),
        ("[]", "/ws/\x07world/"),
        ("[]", "http://example.com/ws/"),
    ],
)
def test_shard_form_refuses_unknown_zones_and_bad_socket_urls(zones: str, ws_url: str) -> None:
    form = ShardAdminForm(data={"zones": zones, "ws_url": ws_url}, instance=ShardFactory())

    assert not form.is_valid()
    assert set(form.errors) & {"zones", "ws_url"}


def test_shard_form_takes_known_zones_and_socket_urls() -> None:
    form = ShardAdminForm(
        data={"zones": '["town", "town"]', "ws_url": "wss://play.example.com/ws/world/"},
        instance=ShardFactory(),
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["zones"] == ["town"]


def test_resolving_alerts_needs_change_permission_and_is_recorded(gm_client: Client) -> None:
    alert = OpsAlert.objects.create(key="k", source="test", severity="critical", message="m")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(*_permissions("view_opsalert"))
    viewer_client = Client()
    viewer_client.force_login(viewer)
    changelist = reverse("admin:liveops_opsalert_changelist")
    action = {"action": "resolve_alerts", "_selected_action": [alert.pk]}

    viewer_client.post(changelist, action)
    alert.refresh_from_db()
    assert alert.resolved_at is None

    gm_client.post(changelist, action)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert LogEntry.objects.filter(object_id=str(alert.pk), change_message="Resolved").exists()


def test_reward_amounts_are_bounded_by_what_a_grant_can_pay() -> None:
    board = Leaderboard(
        key="arena",
        title="Arena",
        rewards=[{"ranks": [1, 1], "currency": "gold", "amount": 10**23}],
        created_at=timezone.now(),
    )

    with pytest.raises(ValidationFailed) as refused:
        leaderboard_definition_check(board)
    assert refused.value.code == "invalid_rewards"


def _permissions(*codenames: str) -> list[object]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(codename__in=codenames))


@pytest.mark.parametrize("selected", ["abc", "1e3", "99999999999999999999999"])
def test_action_on_a_tampered_selection_is_an_error_message_not_a_crash(
    gm_client: Client, selected: str
) -> None:
    player = UserFactory(username="player")
    response = gm_client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "reinstate_accounts",
            "_selected_action": [str(player.pk), selected],
            "index": 0,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "not a valid id" in response.content.decode()
    assert not LogEntry.objects.exists()  # nothing was done, not even to the valid id
