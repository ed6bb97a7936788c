"""GM console: chat history is searchable and filterable, and read-only (delete: superusers)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from characters.models import Character
from chat.models import ChatMessage
from tests.characters.factories import CharacterFactory
from tests.chat.factories import chat_message_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:chat_chatmessage_changelist")


@pytest.fixture
def gm() -> Client:
    """Staff holding every chat permission: the admin itself must keep the history read-only."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="chat"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def lines() -> list[ChatMessage]:
    alice = CharacterFactory(name="Alice", zone="town")
    bob = CharacterFactory(name="Bob", zone="field", realm=alice.realm)
    return [
        chat_message_create(alice, text="selling swords cheap"),
        chat_message_create(bob, text="looking for group tonight", channel="zone"),
    ]


def body(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def test_the_bare_changelist_lands_on_today(gm: Client, lines: list[ChatMessage]) -> None:
    carol = CharacterFactory(name="Carol", realm=lines[0].realm)
    old = chat_message_create(carol, text="said last week", days_ago=7)
    landing = gm.get(CHANGELIST)
    today = gm.get(CHANGELIST, follow=True)
    all_dates = gm.get(CHANGELIST, {"channel__exact": "say"})
    assert landing.status_code == 302
    day = timezone.localdate()
    assert f"sent_at__day={day.day}" in landing["Location"]
    assert "selling swords cheap" in body(today) and old.text not in body(today)
    assert old.text in body(all_dates)  # any filter or search reaches every date


def test_changelist_searches_by_sender_and_text(gm: Client, lines: list[ChatMessage]) -> None:
    everything = gm.get(CHANGELIST, follow=True)
    by_name = gm.get(CHANGELIST, {"q": "Bob"})
    by_words = gm.get(CHANGELIST, {"q": "swords"})
    assert everything.status_code == 200
    assert "selling swords cheap" in body(everything) and "looking for group tonight" in body(
        everything
    )
    assert "looking for group tonight" in body(by_name) and "selling swords" not in body(by_name)
    assert "selling swords cheap" in body(by_words) and "group tonight" not in body(by_words)


def test_changelist_filters_by_channel_realm_and_zone(gm: Client, lines: list[ChatMessage]) -> None:
    realm_id = lines[0].realm_id
    zone_channel = gm.get(CHANGELIST, {"channel__exact": "zone"})
    in_town = gm.get(CHANGELIST, {"zone": "town", "realm__id__exact": realm_id})
    by_day = gm.get(
        CHANGELIST,
        {
            "sent_at__year": lines[0].sent_at.year,
            "sent_at__month": lines[0].sent_at.month,
            "sent_at__day": lines[0].sent_at.day,
        },
    )
    assert "looking for group tonight" in body(zone_channel)
    assert "selling swords" not in body(zone_channel)
    assert "selling swords cheap" in body(in_town) and "group tonight" not in body(in_town)
    assert by_day.status_code == 200 and "selling swords cheap" in body(by_day)


def test_changelist_queries_do_not_grow_with_the_rows_shown(
    gm: Client, lines: list[ChatMessage]
) -> None:
    gm.get(CHANGELIST, follow=True)  # the first request of a session records it
    with CaptureQueriesContext(connection) as few:
        assert gm.get(CHANGELIST, follow=True).status_code == 200
    for number in range(20):
        chat_message_create(CharacterFactory(realm=lines[0].realm), text=f"line {number}")
    with CaptureQueriesContext(connection) as many:
        assert gm.get(CHANGELIST, follow=True).status_code == 200
    assert len(many) == len(few)


def test_staff_can_read_a_line_but_not_add_change_or_delete(
    gm: Client, lines: list[ChatMessage]
) -> None:
    line = lines[0]
    detail = gm.get(reverse("admin:chat_chatmessage_change", args=[line.pk]))
    edit = gm.post(reverse("admin:chat_chatmessage_change", args=[line.pk]), {"text": "rewritten"})
    add = gm.get(reverse("admin:chat_chatmessage_add"))
    delete = gm.post(reverse("admin:chat_chatmessage_delete", args=[line.pk]), {"post": "yes"})
    bulk_delete = gm.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [line.pk], "post": "yes"}
    )
    assert detail.status_code == 200 and "selling swords cheap" in body(detail)
    assert 'name="text"' not in body(detail)  # shown, not editable
    assert edit.status_code == 403
    assert add.status_code == 403
    assert delete.status_code == 403
    assert bulk_delete.status_code == 200  # the action is not offered: nothing happens
    line.refresh_from_db()
    assert line.text == "selling swords cheap"


def test_only_a_superuser_may_delete_a_line(superuser: Client, lines: list[ChatMessage]) -> None:
    line = lines[0]
    response = superuser.post(
        reverse("admin:chat_chatmessage_delete", args=[line.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ChatMessage.objects.filter(pk=line.pk).exists()


def test_players_cannot_reach_the_chat_history(lines: list[ChatMessage]) -> None:
    client = Client()
    client.force_login(UserFactory())
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert isinstance(lines[0].sender, Character)
