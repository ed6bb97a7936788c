"""Portal pages for characters: list, create with the rules, delete with confirmation, restore."""

from __future__ import annotations

import pytest
from django.utils import timezone

from characters.models import Character
from tests.characters.factories import CharacterFactory, RealmFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FORM = {
    "realm": "eldoria",
    "name": "borin",
    "class_id": "warrior",
    "race_id": "dwarf",
    "body": "3",
    "hair": "2",
    "color": "ember",
}


@pytest.fixture
def realm():
    return RealmFactory(slug="eldoria", name="Eldoria")


@pytest.mark.parametrize(
    "url", ["/characters/", "/characters/new/", "/characters/1/delete/", "/realms/"]
)
def test_pages_need_login(client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_list_shows_characters_by_realm_with_enter_world_and_restore(client, realm) -> None:
    user = UserFactory()
    live = CharacterFactory(account=user, realm=realm, name="Borin", class_id="warrior")
    CharacterFactory(account=user, realm=realm, name="Gone", deleted_at=timezone.now())
    CharacterFactory(realm=realm, name="Stranger")
    client.force_login(user)

    page = client.get("/characters/").content.decode()

    assert "Eldoria" in page and "Borin" in page and "Warrior" in page and "town" in page
    assert f"/play?character={live.pk}" in page
    assert "Restore" in page and "Gone" in page
    assert "Stranger" not in page


def test_create_form_shows_the_rules_and_creates(client, realm) -> None:
    user = UserFactory()
    client.force_login(user)

    form_page = client.get("/characters/new/").content.decode()
    assert "3 to 16 letters" in form_page and "Mage" in form_page and "Dwarf" in form_page

    response = client.post("/characters/new/", FORM)

    assert response.status_code == 302
    assert Character.objects.get(account=user).name == "Borin"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bo", "3 to 16 letters"),
        ("B0rin", "only the letters A to Z"),
        ("Moderator", "reserved or not allowed"),
    ],
)
def test_create_form_shows_the_broken_rule_next_to_the_name(
    client, realm, name: str, message: str
) -> None:
    client.force_login(UserFactory())

    response = client.post("/characters/new/", {**FORM, "name": name})

    assert response.status_code == 200
    assert message in response.context["form"].errors["name"][0]
    assert not Character.objects.exists()


def test_delete_needs_the_name_typed_then_restore_brings_it_back(client, realm) -> None:
    character = CharacterFactory(realm=realm, name="Borin")
    client.force_login(character.account)
    url = f"/characters/{character.pk}/delete/"
    assert "7 days" in client.get(url).content.decode()

    client.post(url, {"confirm_name": "wrong"})
    character.refresh_from_db()
    assert character.deleted_at is None

    client.post(url, {"confirm_name": "borin"})
    character.refresh_from_db()
    assert character.deleted_at is not None

    client.post(f"/characters/{character.pk}/restore/")
    character.refresh_from_db()
    assert character.deleted_at is None


def test_another_players_character_pages_are_404(client, realm) -> None:
    character = CharacterFactory(realm=realm, name="Borin", deleted_at=timezone.now())
    client.force_login(UserFactory())

    assert client.get(f"/characters/{character.pk}/delete/").status_code == 404
    assert (
        client.post(f"/characters/{character.pk}/delete/", {"confirm_name": "borin"}).status_code
        == 404
    )
    assert client.post(f"/characters/{character.pk}/restore/").status_code == 404
    character.refresh_from_db()
    assert character.deleted_at is not None
