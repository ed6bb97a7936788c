"""The /play page: login required, own characters only (404 otherwise), a picker without a
character, everything served locally."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.characters.factories import CharacterFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


def client_config(page: str) -> dict[str, object]:
    match = re.search(r'<script id="play-config" type="application/json">(.*?)</script>', page)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_anonymous_visitor_is_sent_to_login(client: Client) -> None:
    response = client.get("/play?character=1")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/play")


def test_own_character_gets_the_client_page(client: Client) -> None:
    # given
    character = CharacterFactory(name="Ann")
    client.force_login(character.account)

    # when
    response = client.get(f"/play?character={character.pk}")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert 'type="module"' in page and "/static/play/main.js" in page
    assert 'id="play"' in page and "data-csrf=" in page
    config = client_config(page)
    assert config["join_url"] == f"/api/v1/characters/{character.pk}/join"
    assert config["character"] == {"id": character.pk, "name": "Ann", "realm": character.realm.name}
    assert config["palette"]["ember"] == "#b5523b"  # type: ignore[index]
    assert not EXTERNAL.findall(page)


def test_character_name_is_escaped_in_the_config(client: Client) -> None:
    character = CharacterFactory(name="</script>")
    client.force_login(character.account)

    page = client.get(f"/play?character={character.pk}").content.decode()

    assert "</script><" not in page.split('id="play-config"', 1)[1].split("</script>", 1)[0]
    assert client_config(page)["character"]["name"] == "</script>"  # type: ignore[index]


@pytest.mark.parametrize("character_param", ["other", "999999", "abc", "-1", "1.5"])
def test_someone_elses_or_unknown_character_is_404(client: Client, character_param: str) -> None:
    # given
    mine = CharacterFactory()
    theirs = CharacterFactory()
    client.force_login(mine.account)
    value = str(theirs.pk) if character_param == "other" else character_param

    # when
    response = client.get("/play", {"character": value})

    # then
    assert response.status_code == 404
    assert theirs.name not in response.content.decode()


def test_deleted_character_goes_back_to_the_picker(client: Client) -> None:
    character = CharacterFactory(deleted_at=timezone.now())
    client.force_login(character.account)

    response = client.get(f"/play?character={character.pk}", follow=True)

    assert response.redirect_chain == [("/play", 302)]
    assert "is deleted" in response.content.decode()


def test_picker_lists_only_my_playable_characters(client: Client) -> None:
    # given
    user = UserFactory()
    alive = CharacterFactory(account=user, name="Alive")
    CharacterFactory(account=user, name="Gone", deleted_at=timezone.now())
    CharacterFactory(name="Stranger")
    client.force_login(user)

    # when
    response = client.get("/play")

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="/play?character={alive.pk}"' in page
    assert "Alive" in page
    assert "Gone" not in page and "Stranger" not in page


def test_picker_without_characters_offers_to_create_one(client: Client) -> None:
    client.force_login(UserFactory())

    page = client.get("/play").content.decode()

    assert "No characters yet" in page
    assert 'href="/characters/new/"' in page


def test_play_accepts_only_get(client: Client) -> None:
    character = CharacterFactory()
    client.force_login(character.account)

    assert client.post(f"/play?character={character.pk}").status_code == 405
