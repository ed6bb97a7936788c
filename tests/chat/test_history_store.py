"""chat_history_record: the write a shard's buffer makes, one INSERT per batch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ChatMessage
from chat.services import ChatLine, chat_history_record
from tests.characters.factories import CharacterFactory, RealmFactory

pytestmark = pytest.mark.django_db

SAID_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def line(character_id: int, text: str, **fields: str) -> ChatLine:
    values = {"realm": "azure", "shard": "azure-1", "zone": "town", "channel": "say"}
    values.update(fields)
    return ChatLine(
        realm=values["realm"],
        shard=values["shard"],
        zone=values["zone"],
        channel=values["channel"],
        character_id=character_id,
        sender_name=values.get("sender_name", ""),
        text=text,
        sent_at=SAID_AT,
    )


def test_a_batch_is_stored_in_one_insert_with_sender_snapshot() -> None:
    # given
    realm = RealmFactory(slug="azure")
    alice = CharacterFactory(realm=realm, name="Alice")
    bob = CharacterFactory(realm=realm, name="Bob")
    batch = [
        line(alice.pk, "hi", sender_name="Alice"),
        line(bob.pk, "hello all", channel="zone", zone="field"),  # name unknown to the shard
    ]
    # when
    with CaptureQueriesContext(connection) as queries:
        written = chat_history_record(batch)
    # then: realm + names lookups, and a single INSERT for the batch
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert written == 2 and len(inserts) == 1
    rows = list(ChatMessage.objects.order_by("pk").values())
    assert [(r["sender_id"], r["sender_name"], r["channel"], r["zone"]) for r in rows] == [
        (alice.pk, "Alice", "say", "town"),
        (bob.pk, "Bob", "zone", "field"),
    ]
    assert {(r["realm_id"], r["shard"], r["sent_at"]) for r in rows} == {
        (realm.pk, "azure-1", SAID_AT)
    }


def test_a_sender_deleted_meanwhile_keeps_the_name_without_the_key() -> None:
    realm = RealmFactory(slug="azure")
    gone = CharacterFactory(realm=realm, name="Gone")
    gone_id = gone.pk
    gone.account.delete()  # account deletion removes its characters
    assert chat_history_record([line(gone_id, "last words", sender_name="Gone")]) == 1
    row = ChatMessage.objects.get()
    assert row.sender_id is None and row.sender_name == "Gone"


def test_deleting_a_character_keeps_its_lines_without_the_key() -> None:
    realm = RealmFactory(slug="azure")
    alice = CharacterFactory(realm=realm, name="Alice")
    chat_history_record([line(alice.pk, "hi", sender_name="Alice")])
    alice.account.delete()
    row = ChatMessage.objects.get()
    assert row.sender_id is None and row.sender_name == "Alice" and row.text == "hi"


def test_lines_of_an_unknown_realm_are_skipped_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    realm = RealmFactory(slug="azure")
    alice = CharacterFactory(realm=realm, name="Alice")
    written = chat_history_record(
        [line(alice.pk, "kept"), line(alice.pk, "lost", realm="no-such-realm")]
    )
    assert written == 1
    assert list(ChatMessage.objects.values_list("text", flat=True)) == ["kept"]
    assert "no-such-realm" in caplog.text


def test_an_empty_batch_touches_nothing() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert chat_history_record([]) == 0
    assert len(queries) == 0
