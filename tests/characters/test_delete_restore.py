"""Soft delete, restore within the window, purge after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from characters.models import Character
from characters.selectors import character_get_owned, character_list_for_account
from characters.services import character_delete, character_purge_expired, character_restore
from characters.signals import character_purged
from characters.tasks import characters_purge_expired
from mmo_platform.errors import Conflict, NotFound
from tests.characters.factories import CharacterFactory
from worlds.models import WorldSession

pytestmark = pytest.mark.django_db


def test_delete_is_soft_and_the_character_stays_listed_as_restorable() -> None:
    character = CharacterFactory()
    now = timezone.now()

    character_delete(user=character.account, character_id=character.pk, now=now)

    character.refresh_from_db()
    assert character.deleted_at == now
    assert list(character_list_for_account(user=character.account)) == [character]
    assert list(character_list_for_account(user=character.account, include_deleted=False)) == []


def test_deleting_twice_is_a_conflict() -> None:
    character = CharacterFactory(deleted_at=timezone.now())

    with pytest.raises(Conflict) as excinfo:
        character_delete(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "character_deleted"


def test_character_in_the_world_cannot_be_deleted() -> None:
    character = CharacterFactory()
    WorldSession.objects.create(
        account=character.account, character=character, epoch=1, connected_at=timezone.now()
    )

    with pytest.raises(Conflict) as excinfo:
        character_delete(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "character_in_world"
    character.refresh_from_db()
    assert character.deleted_at is None


def test_restore_within_the_window_brings_the_character_back() -> None:
    deleted_at = timezone.now() - timedelta(days=6, hours=23)
    character = CharacterFactory(deleted_at=deleted_at)

    character_restore(user=character.account, character_id=character.pk)

    character.refresh_from_db()
    assert character.deleted_at is None


def test_restore_after_the_window_is_refused_even_before_the_purge_ran() -> None:
    character = CharacterFactory(deleted_at=timezone.now() - timedelta(days=7, seconds=1))

    with pytest.raises(Conflict) as excinfo:
        character_restore(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "restore_window_ended"


def test_restoring_a_live_character_is_a_conflict() -> None:
    character = CharacterFactory()

    with pytest.raises(Conflict) as excinfo:
        character_restore(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "character_not_deleted"


def test_purge_takes_only_characters_past_the_window_and_is_idempotent(
    django_capture_on_commit_callbacks,
) -> None:
    now = timezone.now()
    expired = CharacterFactory(deleted_at=now - timedelta(days=7, minutes=1))
    recent = CharacterFactory(deleted_at=now - timedelta(days=6))
    live = CharacterFactory()
    received: list[int] = []

    def on_purged(sender, character_id, **kwargs):
        received.append(character_id)

    character_purged.connect(on_purged)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert character_purge_expired(now=now) == 1
        assert character_purge_expired(now=now) == 0
    finally:
        character_purged.disconnect(on_purged)

    assert received == [expired.pk]
    purged_at = dict(Character.objects.values_list("pk", "purged_at"))
    assert purged_at[expired.pk] == now
    assert purged_at[recent.pk] is None
    assert purged_at[live.pk] is None


def test_purged_character_is_gone_for_its_owner() -> None:
    character = CharacterFactory(deleted_at=timezone.now() - timedelta(days=30))
    characters_purge_expired.delay()  # the Celery task (eager in tests) calls the service

    with pytest.raises(NotFound):
        character_get_owned(user=character.account, character_id=character.pk)
    with pytest.raises(NotFound):
        character_restore(user=character.account, character_id=character.pk)
    assert list(character_list_for_account(user=character.account)) == []
