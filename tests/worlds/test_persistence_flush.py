"""The shard's batched flush (worlds.runtime.persistence): conditional on world_version, one batch.

Runs on SQLite by default and on PostgreSQL with DATABASE_URL (the executemany path).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.db import connection
from django.db.models import F

from characters.models import Character
from tests.characters.factories import CharacterFactory
from worlds.runtime.persistence import DjangoCharacterStore, state_from_character

pytestmark = pytest.mark.django_db


def _entered(store: DjangoCharacterStore, character: Character) -> None:
    """As load_for_entry does: remember the version this shard read."""
    store.versions[character.pk] = character.world_version


def test_flush_writes_every_owned_row_and_bumps_its_version() -> None:
    # given
    store = DjangoCharacterStore()
    characters = [CharacterFactory() for _ in range(3)]
    for character in characters:
        _entered(store, character)
    states = [
        replace(state_from_character(c), x=c.x + 5, y=c.y + 1, facing=4, hp=1) for c in characters
    ]

    # when
    written = store.save_states(states)

    # then
    assert written == 3
    for character in characters:
        row = Character.objects.get(pk=character.pk)
        assert (row.x, row.y, row.hp) == (character.x + 5, character.y + 1, 1)
        assert row.world_version == character.world_version + 1
        assert row.last_saved_at is not None
        assert store.versions[character.pk] == row.world_version


def test_a_stale_row_is_refused_and_the_others_are_written() -> None:
    # given: another shard wrote the second character after this one read it
    store = DjangoCharacterStore()
    kept, lost = CharacterFactory(), CharacterFactory()
    _entered(store, kept)
    _entered(store, lost)
    Character.objects.filter(pk=lost.pk).update(world_version=lost.world_version + 1, x=1.0)

    # when
    written = store.save_states([replace(state_from_character(c), x=42.0) for c in (kept, lost)])

    # then
    assert written == 1
    assert Character.objects.get(pk=kept.pk).x == 42.0
    assert Character.objects.get(pk=lost.pk).x == 1.0
    assert lost.pk not in store.versions  # this shard no longer owns it: never writes it again
    assert store.save_states([replace(state_from_character(lost), x=7.0)]) == 0


def test_hp_above_the_base_maximum_is_not_stored() -> None:
    store = DjangoCharacterStore()
    character = CharacterFactory()
    _entered(store, character)

    store.save_states([replace(state_from_character(character), hp=character.max_hp + 50)])

    assert Character.objects.get(pk=character.pk).hp == character.max_hp


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the batch is PostgreSQL's path")
def test_on_postgresql_the_flush_is_one_executemany(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    store = DjangoCharacterStore()
    characters = [CharacterFactory() for _ in range(20)]
    for character in characters:
        _entered(store, character)
    batches: list[int] = []
    original = psycopg.Cursor.executemany

    def counting(self: psycopg.Cursor, query: object, params: list[object], **kw: object) -> None:
        batches.append(len(params))
        original(self, query, params, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "executemany", counting)

    assert store.save_states([replace(state_from_character(c), x=3.0) for c in characters]) == 20
    assert batches == [20]


def test_two_states_of_one_character_in_a_batch_write_the_last_and_later_saves_still_land() -> None:
    # given
    store = DjangoCharacterStore()
    character = CharacterFactory()
    _entered(store, character)
    first = replace(state_from_character(character), x=character.x + 1)
    last = replace(state_from_character(character), x=character.x + 2)

    # when
    store.save_states([first, last])
    store.save_states([replace(last, x=character.x + 3)])

    # then
    row = Character.objects.get(pk=character.pk)
    assert row.x == character.x + 3
    assert row.world_version == character.world_version + 2 == store.versions[character.pk]


def test_entering_claims_the_character_so_an_older_holders_saves_are_refused_and_reported() -> None:
    # given: the character sits in one shard's reconnect grace; the player rejoined elsewhere
    character = CharacterFactory()
    holder, newcomer = DjangoCharacterStore(), DjangoCharacterStore()
    for store in (holder, newcomer):
        store.load_for_entry(
            character_id=character.pk,
            account_id=character.account_id,
            owned_zones={character.zone},
            transfer_token=None,
        )
    assert Character.objects.get(pk=character.pk).world_version == character.world_version + 2

    # when
    stale = holder.save_states([replace(state_from_character(character), x=1.0)])
    fresh = newcomer.save_states([replace(state_from_character(character), x=2.0)])

    # then: the newest entry owns the row; the old holder is told to drop its copy, once
    assert (stale, fresh) == (0, 1)
    assert holder.take_lost() == [character.pk] and holder.take_lost() == []
    assert newcomer.take_lost() == []
    assert Character.objects.get(pk=character.pk).x == 2.0


def test_entering_again_takes_the_character_off_the_lost_list() -> None:
    character = CharacterFactory()
    store = DjangoCharacterStore()
    entry = {
        "character_id": character.pk,
        "account_id": character.account_id,
        "owned_zones": {character.zone},
        "transfer_token": None,
    }
    store.load_for_entry(**entry)
    Character.objects.filter(pk=character.pk).update(world_version=F("world_version") + 1)
    assert store.save_states([state_from_character(character)]) == 0  # claimed elsewhere

    store.load_for_entry(**entry)  # the player came back here before the runner asked

    assert store.take_lost() == []
    assert store.versions[character.pk] == Character.objects.get(pk=character.pk).world_version
    assert store.save_states([replace(state_from_character(character), x=5.0)]) == 1
