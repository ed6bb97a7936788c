"""The characters API over HTTP: bodies, error codes, and that another player's character id
answers 404 with no data on every endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from characters.models import Character
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.factories import UserFactory
from worlds.models import LoginQueueEntry

pytestmark = pytest.mark.django_db

CREATE_BODY = {
    "realm": "eldoria",
    "name": "alyndra",
    "class_id": "mage",
    "race_id": "elf",
    "appearance": {"body": 2, "hair": 5, "color": "dusk"},
}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def realm():
    realm = RealmFactory(slug="eldoria", name="Eldoria")
    ShardFactory(realm=realm, name="eldoria-1")
    return realm


def test_create_then_list_and_detail(realm) -> None:
    user = UserFactory()
    client = api_for(user)

    created = client.post("/api/v1/characters/create", CREATE_BODY, format="json")

    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["realm"], body["zone"]) == (
        "Alyndra",
        {"slug": "eldoria", "name": "Eldoria"},
        "town",
    )
    assert (body["resource_type"], body["max_hp"], body["deleted_at"]) == ("mana", 65, None)
    listed = client.get("/api/v1/characters").json()
    assert [c["id"] for c in listed] == [body["id"]]
    assert client.get("/api/v1/characters", {"realm": "other"}).json() == []
    assert client.get(f"/api/v1/characters/{body['id']}").json() == body


@pytest.mark.parametrize("realm_filter", ["\x00:", "not a slug", "x" * 41, "", "Z\x0b", " eldoria"])
def test_list_refuses_a_malformed_realm_filter(realm_filter: str) -> None:
    response = api_for(UserFactory()).get("/api/v1/characters", {"realm": realm_filter})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "realm" in response.json()["details"]


@pytest.mark.parametrize(
    ("name", "code"),
    [("Al", "name_length"), ("Al1ce", "name_charset"), ("Admin", "name_reserved")],
)
def test_create_refusal_has_the_rules_code_and_field(realm, name: str, code: str) -> None:
    response = api_for(UserFactory()).post(
        "/api/v1/characters/create", {**CREATE_BODY, "name": name}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"] == {"field": "name"}


def test_name_taken_over_http(realm) -> None:
    api_for(UserFactory()).post("/api/v1/characters/create", CREATE_BODY, format="json")

    response = api_for(UserFactory()).post(
        "/api/v1/characters/create", {**CREATE_BODY, "name": "ALYNDRA"}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "name_taken")


def test_malformed_create_body_is_a_400_not_a_crash(realm) -> None:
    client = api_for(UserFactory())

    for body in ({}, {**CREATE_BODY, "appearance": "tall"}, {**CREATE_BODY, "name": ["a"]}):
        response = client.post("/api/v1/characters/create", body, format="json")
        assert response.status_code == 400
        assert "code" in response.json()
    assert not Character.objects.exists()


def test_delete_and_restore_over_http(realm) -> None:
    character = CharacterFactory(realm=realm)
    client = api_for(character.account)

    deleted = client.post(f"/api/v1/characters/{character.pk}/delete")
    assert deleted.status_code == 200
    assert deleted.json()["restorable_until"] is not None
    again = client.post(f"/api/v1/characters/{character.pk}/delete")
    assert (again.status_code, again.json()["code"]) == (409, "character_deleted")

    restored = client.post(f"/api/v1/characters/{character.pk}/restore")
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


def test_options_list_classes_races_appearance_and_rules() -> None:
    body = api_for(UserFactory()).get("/api/v1/characters/options").json()

    assert {c["id"] for c in body["classes"]} == {"warrior", "mage", "ranger", "cleric"}
    assert {r["id"] for r in body["races"]} == {"human", "elf", "dwarf", "orc"}
    assert body["appearance"]["body"] == {"min": 1, "max": 4}
    assert body["appearance"]["hair"] == {"min": 1, "max": 8}
    assert body["name_rules"]["min_length"] == 3
    assert body["characters_per_realm"] == 8


def test_join_over_http_ready_then_queued_when_full(realm) -> None:
    character = CharacterFactory(realm=realm)

    ready = api_for(character.account).post(f"/api/v1/characters/{character.pk}/join")

    assert ready.status_code == 200
    assert set(ready.json()) == {
        "status",
        "realm",
        "character_id",
        "ticket",
        "ws_url",
        "shard",
        "expires_in",
    }
    assert ready.json()["status"] == "ready"

    realm.shards.update(population=100)
    waiting = CharacterFactory(realm=realm)
    queued = api_for(waiting.account).post(f"/api/v1/characters/{waiting.pk}/join").json()
    assert queued["status"] == "queued"
    assert set(queued) == {
        "status",
        "realm",
        "character_id",
        "queue_id",
        "position",
        "estimated_wait_seconds",
        "poll_after_seconds",
    }
    polled = api_for(waiting.account).get(f"/api/v1/queue/{queued['queue_id']}")
    assert (polled.status_code, polled.json()["position"]) == (200, 1)
    left = api_for(waiting.account).post(f"/api/v1/queue/{queued['queue_id']}/leave")
    assert left.status_code == 204


def test_join_of_an_unavailable_realm_is_503(realm) -> None:
    realm.shards.update(last_heartbeat=timezone.now() - timedelta(minutes=5))
    character = CharacterFactory(realm=realm)

    response = api_for(character.account).post(f"/api/v1/characters/{character.pk}/join")

    assert (response.status_code, response.json()["code"]) == (503, "realm_unavailable")


# --- Cross-account probing -----------------------------------------------------------------------


ENDPOINTS = [
    ("get", "/api/v1/characters/{id}"),
    ("post", "/api/v1/characters/{id}/delete"),
    ("post", "/api/v1/characters/{id}/restore"),
    ("post", "/api/v1/characters/{id}/join"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_another_players_character_is_404_with_no_data_on_every_endpoint(
    realm, method: str, path: str
) -> None:
    victim = CharacterFactory(realm=realm, name="Alyndra")
    deleted_victim = CharacterFactory(realm=realm, name="Secret", deleted_at=timezone.now())
    prober = api_for(UserFactory())
    never_used_id = Character.objects.order_by("-pk").first().pk + 100

    responses = [
        getattr(prober, method)(path.format(id=target))
        for target in (victim.pk, deleted_victim.pk, never_used_id)
    ]

    # identical answers for someone else's character and for one that never existed
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert (
        responses[0].json()
        == responses[2].json()
        == {
            "code": "not_found",
            "message": "No such character.",
        }
    )
    assert "Alyndra" not in responses[0].content.decode()
    victim.refresh_from_db()
    deleted_victim.refresh_from_db()
    assert victim.deleted_at is None and deleted_victim.deleted_at is not None
    assert victim.session_epoch == 0


def test_another_players_characters_never_appear_in_the_list(realm) -> None:
    CharacterFactory(realm=realm, name="Alyndra")

    assert api_for(UserFactory()).get("/api/v1/characters").json() == []


def test_another_players_queue_place_is_404(realm) -> None:
    realm.shards.update(population=100)
    owner = CharacterFactory(realm=realm)
    queue_id = api_for(owner.account).post(f"/api/v1/characters/{owner.pk}/join").json()["queue_id"]
    prober = api_for(UserFactory())

    assert prober.get(f"/api/v1/queue/{queue_id}").status_code == 404
    assert prober.post(f"/api/v1/queue/{queue_id}/leave").status_code == 404
    assert LoginQueueEntry.objects.get(pk=queue_id).status == "waiting"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        *ENDPOINTS,
        ("get", "/api/v1/characters"),
        ("post", "/api/v1/characters/create"),
        ("get", "/api/v1/queue/1"),
    ],
)
def test_anonymous_requests_are_refused(realm, method: str, path: str) -> None:
    character = CharacterFactory(realm=realm)

    response = getattr(APIClient(), method)(path.format(id=character.pk))

    assert response.status_code in (401, 403)
    assert character.name not in response.content.decode()
