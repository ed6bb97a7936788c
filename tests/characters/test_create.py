"""Character creation: starting values, choices, the per-realm limit, who may create."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import AccountStatus
from characters.models import Character
from characters.services import character_create, character_delete, character_purge_expired
from mmo_platform.errors import AccountRestricted, ValidationFailed
from tests.characters.factories import RealmFactory
from tests.factories import UserFactory
from worlds.content import get_zone_maps

pytestmark = pytest.mark.django_db

APPEARANCE = {"body": 4, "hair": 8, "color": "night"}


def create(user, realm, name="Alyndra", **overrides):
    arguments = {
        "user": user,
        "realm_slug": realm.slug,
        "name": name,
        "class_id": "mage",
        "race_id": "elf",
        "appearance": APPEARANCE,
    }
    arguments.update(overrides)
    return character_create(**arguments)


def test_new_character_has_class_base_plus_race_modifiers_and_starts_in_town() -> None:
    # given mage base hp 70 / mana 150 / str 5 agi 7 int 15 spi 12 and elf -5 / -1 +2 +2 +1
    user, realm = UserFactory(), RealmFactory()

    character = create(user, realm)

    character.refresh_from_db()
    assert (character.max_hp, character.hp) == (65, 65)
    assert (character.max_resource, character.resource) == (150, 150)
    assert character.stats == {"str": 4, "agi": 9, "int": 17, "spi": 13}
    assert (character.level, character.xp) == (1, 0)
    spawn = get_zone_maps()["town"].spawn_points["default"]
    assert (character.zone, character.x, character.y) == ("town", spawn.x, spawn.y)
    assert character.appearance == APPEARANCE
    assert (character.account, character.realm) == (user, realm)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("class_id", "necromancer", "class_unknown"),
        ("race_id", "goblin", "race_unknown"),
        ("realm_slug", "atlantis", "realm_unknown"),
    ],
)
def test_unknown_choices_are_refused_with_their_own_code(field: str, value: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), RealmFactory(), **{field: value})

    assert excinfo.value.code == code
    assert not Character.objects.exists()


def test_closed_realm_takes_no_new_characters() -> None:
    realm = RealmFactory(is_open=False)

    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), realm)

    assert excinfo.value.code == "realm_unknown"


@pytest.mark.parametrize(
    "appearance",
    [
        {"body": 0, "hair": 1, "color": "ember"},
        {"body": 5, "hair": 1, "color": "ember"},
        {"body": 1, "hair": 9, "color": "ember"},
        {"body": 1, "hair": 1, "color": "plaid"},
        {"body": "1", "hair": 1, "color": "ember"},
        {"body": True, "hair": 1, "color": "ember"},
        {"body": 1, "hair": 1},
        {"body": 1, "hair": 1, "color": "ember", "wings": 2},
        "tall",
    ],
)
def test_appearance_outside_the_options_is_refused(appearance: object) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        create(UserFactory(), RealmFactory(), appearance=appearance)

    assert excinfo.value.code == "appearance_invalid"


@override_settings(CHARACTERS_PER_REALM=3)
def test_per_realm_limit_counts_soft_deleted_characters_until_purged() -> None:
    user, realm = UserFactory(), RealmFactory()
    first = create(user, realm, "Aaa")
    create(user, realm, "Bbb")
    create(user, realm, "Ccc")
    character_delete(user=user, character_id=first.pk)

    with pytest.raises(ValidationFailed) as excinfo:
        create(user, realm, "Ddd")
    assert excinfo.value.code == "character_limit"
    assert excinfo.value.details == {"limit": 3}

    character_purge_expired(now=timezone.now() + timedelta(days=8))
    assert create(user, realm, "Ddd").name == "Ddd"


@override_settings(CHARACTERS_PER_REALM=1)
def test_limit_is_per_realm_and_per_account() -> None:
    user, eldoria, frostmere = UserFactory(), RealmFactory(slug="e"), RealmFactory(slug="f")
    create(user, eldoria, "Aaa")

    create(user, frostmere, "Bbb")
    create(UserFactory(), eldoria, "Ccc")

    assert Character.objects.count() == 3


@pytest.mark.parametrize("status", [AccountStatus.BANNED, AccountStatus.SUSPENDED])
def test_restricted_account_cannot_create(status: str) -> None:
    user = UserFactory(
        status=status,
        status_reason="botting",
        suspended_until=timezone.now() + timedelta(days=1),
    )

    with pytest.raises(AccountRestricted) as excinfo:
        create(user, RealmFactory())

    assert "botting" in excinfo.value.message
