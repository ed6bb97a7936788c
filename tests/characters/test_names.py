"""Every character-name rule, each with its own error code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from characters.services import (
    character_create,
    character_delete,
    character_name_normalise,
    character_purge_expired,
)
from mmo_platform.errors import ValidationFailed
from tests.characters.factories import CharacterFactory, RealmFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APPEARANCE = {"body": 2, "hair": 3, "color": "moss"}


def create(user, realm, name):
    return character_create(
        user=user,
        realm_slug=realm.slug,
        name=name,
        class_id="mage",
        race_id="elf",
        appearance=APPEARANCE,
    )


def refusal_code(name: str) -> str:
    with pytest.raises(ValidationFailed) as excinfo:
        character_name_normalise(name=name)
    assert excinfo.value.details == {"field": "name"}
    return excinfo.value.code


@pytest.mark.parametrize("name", ["", "  ", "Al", "A", "Abcdefghijklmnopq", "x" * 40])
def test_name_outside_3_to_16_letters_is_name_length(name: str) -> None:
    assert refusal_code(name) == "name_length"


@pytest.mark.parametrize("name", ["Abc", "Abcdefghijklmnop"])
def test_names_of_3_and_16_letters_are_accepted(name: str) -> None:
    assert character_name_normalise(name=name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Al1ce",
        "Anna Lee",
        "Zoë",
        "Ålice",
        "Mary-Ann",
        "O'Neil",
        "Bob_",
        "\uff21\uff4c\uff49\uff43\uff45",
        "Al\u200bice",
    ],
)
def test_anything_but_ascii_letters_is_name_charset(name: str) -> None:
    assert refusal_code(name) == "name_charset"


def test_trailing_newline_is_not_smuggled_past_the_letter_check() -> None:
    # A "$"-anchored regex would accept "Alice\n"; strip() handles the outer whitespace, so
    # test an inner one.
    assert refusal_code("Ali\nce") == "name_charset"


@pytest.mark.parametrize("name", ["admin", "ADMIN", "Mod", "Moderator", "System", "gamemaster"])
def test_reserved_names_are_name_reserved(name: str) -> None:
    assert refusal_code(name) == "name_reserved"


@pytest.mark.parametrize("name", ["Xnazix", "Hitlerfan", "Bigfuck", "Shitlord"])
def test_offensive_stems_are_refused_anywhere_in_the_name(name: str) -> None:
    assert refusal_code(name) == "name_reserved"


@pytest.mark.parametrize("name", ["Gmail", "Admiral", "Cassandra", "Peacock", "Dickens", "Torpedo"])
def test_reserved_words_are_whole_name_only_and_stems_avoid_ordinary_names(name: str) -> None:
    assert character_name_normalise(name=name) == name


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("alice", "Alice"), ("ALICE", "Alice"), ("aLiCe", "Alice"), (" bob ", "Bob")],
)
def test_name_is_stored_with_one_capital_first_letter(typed: str, stored: str) -> None:
    assert character_name_normalise(name=typed) == stored


def test_name_taken_in_the_realm_compares_case_insensitively() -> None:
    realm = RealmFactory()
    create(UserFactory(), realm, "Alyndra")

    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), realm, "ALYNDRA")

    assert excinfo.value.code == "name_taken"
    assert excinfo.value.details == {"field": "name"}


def test_same_name_is_free_on_another_realm() -> None:
    create(UserFactory(), RealmFactory(slug="one"), "Alyndra")

    character = create(UserFactory(), RealmFactory(slug="two"), "alyndra")

    assert character.name == "Alyndra"


def test_soft_deleted_character_keeps_its_name_reserved_until_purged() -> None:
    realm = RealmFactory()
    owner = UserFactory()
    deleted = create(owner, realm, "Alyndra")
    character_delete(user=owner, character_id=deleted.pk)

    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), realm, "Alyndra")
    assert excinfo.value.code == "name_taken"

    character_purge_expired(now=timezone.now() + timedelta(days=8))
    assert create(UserFactory(), realm, "Alyndra").name == "Alyndra"


def test_database_refuses_a_duplicate_name_key_even_without_the_service_check() -> None:
    # The unique index is what settles two concurrent creations of the same name.
    realm = RealmFactory()
    CharacterFactory(realm=realm, name="Borin")

    with pytest.raises(IntegrityError), transaction.atomic():
        CharacterFactory(realm=realm, name="Borin")


def test_lost_race_on_the_unique_index_is_reported_as_name_taken(monkeypatch) -> None:
    realm = RealmFactory()
    CharacterFactory(realm=realm, name="Borin")
    # Simulate the other request committing between our check and our insert.
    monkeypatch.setattr("characters.services._assert_name_free", lambda **kwargs: None)

    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), realm, "Borin")

    assert excinfo.value.code == "name_taken"
