"""Shard heartbeats, operator status holds, the realm list (API and page), admin actions and
demo data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from characters import demo as characters_demo
from characters.models import Character
from mmo_platform.errors import NotFound, ValidationFailed
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.factories import UserFactory
from worlds import demo as worlds_demo
from worlds.models import LoginQueueEntry, Realm, Shard, ShardReservation, ShardStatus
from worlds.selectors import shards_served_locally
from worlds.services import shard_heartbeat, shard_set_status, world_routing_housekeeping

pytestmark = pytest.mark.django_db


def test_heartbeat_records_population_status_version_and_time() -> None:
    shard = ShardFactory(status=ShardStatus.OFFLINE, last_heartbeat=None)
    now = timezone.now()

    shard_heartbeat(
        shard_name=shard.name,
        population=42,
        status="online",
        version="1.4.2",
        zone_populations={"town": 40, "field": 2},
        now=now,
    )

    shard.refresh_from_db()
    assert (shard.population, shard.status, shard.version) == (42, "online", "1.4.2")
    assert shard.zone_populations == {"town": 40, "field": 2}
    assert shard.last_heartbeat == now
    assert shard.is_healthy(now=now)


def test_heartbeat_without_status_keeps_the_current_one() -> None:
    shard = ShardFactory(status=ShardStatus.ONLINE)

    shard_heartbeat(shard_name=shard.name, population=1)

    shard.refresh_from_db()
    assert shard.status == "online"


def test_unknown_shard_registers_itself_only_with_a_realm_slug() -> None:
    realm = RealmFactory(slug="frostmere", region="na")
    with pytest.raises(NotFound):
        shard_heartbeat(shard_name="frostmere-2", population=0)

    shard = shard_heartbeat(
        shard_name="frostmere-2",
        population=3,
        status="online",
        realm_slug="frostmere",
        capacity=250,
        ws_url="wss://fm2.example.test/ws/world/",
        zones=["town", "field"],
    )

    assert (shard.realm, shard.region, shard.capacity) == (realm, "na", 250)
    assert shard.ws_url == "wss://fm2.example.test/ws/world/"
    assert shard.zones == ["town", "field"]
    with pytest.raises(NotFound):
        shard_heartbeat(shard_name="x-1", population=0, realm_slug="atlantis")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"population": -1},
        {"population": "12"},
        {"population": True},
        {"population": 1, "status": "exploded"},
        {"population": 1, "zone_populations": {"town": -3}},
        {"population": 1, "zone_populations": {"town": "many"}},
    ],
)
def test_malformed_heartbeat_is_refused_without_writing(kwargs: dict) -> None:
    shard = ShardFactory(population=7)

    with pytest.raises(ValidationFailed) as excinfo:
        shard_heartbeat(shard_name=shard.name, **kwargs)

    assert excinfo.value.code == "heartbeat_invalid"
    shard.refresh_from_db()
    assert shard.population == 7


@pytest.mark.parametrize("held", [ShardStatus.DRAINING, ShardStatus.MAINTENANCE])
def test_operator_hold_survives_heartbeats_reporting_online_until_lifted(held: str) -> None:
    shard = ShardFactory()

    shard_set_status(shard=shard, status=held)
    shard_heartbeat(shard_name=shard.name, population=5, status="online")
    shard.refresh_from_db()
    assert shard.status == held
    assert not shard.is_healthy()

    shard_set_status(shard=shard, status=ShardStatus.ONLINE)
    shard_heartbeat(shard_name=shard.name, population=5, status="online")
    shard.refresh_from_db()
    assert (shard.status, shard.held_status) == ("online", "")


def test_invalid_operator_status_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        shard_set_status(shard=ShardFactory(), status="sleeping")


def test_heartbeat_ends_redeemed_and_expired_slot_holds_of_that_shard() -> None:
    now = timezone.now()
    shard = ShardFactory()
    kept = ShardReservation.objects.create(
        account=UserFactory(),
        shard=shard,
        character=CharacterFactory(realm=shard.realm),
        expires_at=now + timedelta(seconds=20),
    )
    for redeemed_at, expires_at in ((now, now + timedelta(seconds=20)), (None, now)):
        ShardReservation.objects.create(
            account=UserFactory(),
            shard=shard,
            character=CharacterFactory(realm=shard.realm),
            expires_at=expires_at,
            redeemed_at=redeemed_at,
        )

    shard_heartbeat(shard_name=shard.name, population=1, now=now)

    assert list(ShardReservation.objects.all()) == [kept]


@override_settings(SHARD_HEARTBEAT_TIMEOUT_SECONDS=15)
def test_shard_counts_as_down_once_its_heartbeat_is_older_than_the_timeout() -> None:
    now = timezone.now()
    shard = ShardFactory(last_heartbeat=now)

    assert shard.is_healthy(now=now + timedelta(seconds=15))
    assert not shard.is_healthy(now=now + timedelta(seconds=16))


def test_housekeeping_expires_holds_and_prunes_old_queue_places() -> None:
    now = timezone.now()
    shard = ShardFactory()
    character = CharacterFactory(realm=shard.realm)
    ShardReservation.objects.create(
        account=character.account, shard=shard, character=character, expires_at=now
    )
    LoginQueueEntry.objects.create(
        realm=shard.realm,
        account=character.account,
        character=character,
        status="left",
        finished_at=now - timedelta(days=2),
    )

    result = world_routing_housekeeping(now=now)

    assert result == {"reservations_expired": 1, "admitted": 0, "queue_entries_pruned": 1}


# --- Realm list --------------------------------------------------------------------------------


def test_realm_list_api_shows_type_region_status_and_load_labels() -> None:
    user = UserFactory()
    low = RealmFactory(slug="low", region="eu", kind="pve")
    ShardFactory(realm=low, capacity=100, population=10)
    high = RealmFactory(slug="high", region="na", kind="pvp")
    ShardFactory(realm=high, capacity=100, population=90)
    full = RealmFactory(slug="full", region="ap")
    ShardFactory(realm=full, capacity=10, population=10)
    down = RealmFactory(slug="down")
    ShardFactory(realm=down, status=ShardStatus.MAINTENANCE)
    RealmFactory(slug="hidden", is_open=False)
    CharacterFactory(account=user, realm=high)
    client = APIClient()
    client.force_login(user)

    response = client.get("/api/v1/realms")

    assert response.status_code == 200
    by_slug = {row["slug"]: row for row in response.json()}
    assert set(by_slug) == {"low", "high", "full", "down"}
    assert (by_slug["low"]["load"], by_slug["low"]["status"]) == ("low", "online")
    assert (by_slug["high"]["load"], by_slug["high"]["kind"], by_slug["high"]["region"]) == (
        "high",
        "pvp",
        "na",
    )
    assert by_slug["full"]["load"] == "full"
    assert (by_slug["down"]["load"], by_slug["down"]["status"]) == ("offline", "offline")
    assert by_slug["high"]["your_characters"] == 1
    assert by_slug["low"]["your_characters"] == 0


def test_realm_list_needs_authentication() -> None:
    assert APIClient().get("/api/v1/realms").status_code in (401, 403)


def test_realm_list_page_needs_login_and_lists_realms(client) -> None:
    RealmFactory(slug="eldoria", name="Eldoria")
    assert client.get("/realms/").status_code == 302

    client.force_login(UserFactory())
    response = client.get("/realms/")

    assert response.status_code == 200
    assert "Eldoria" in response.content.decode()


# --- Admin actions -----------------------------------------------------------------------------


def test_admin_actions_drain_maintenance_and_online(client) -> None:
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    shard = ShardFactory()
    url = reverse("admin:worlds_shard_changelist")

    for action, expected in (
        ("drain", "draining"),
        ("maintenance", "maintenance"),
        ("bring_online", "online"),
    ):
        response = client.post(url, {"action": action, "_selected_action": [shard.pk]})
        assert response.status_code == 302
        shard.refresh_from_db()
        assert shard.status == expected

    assert client.get(url).status_code == 200


def test_admin_character_list_searches_by_name_and_account(client) -> None:
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    CharacterFactory(name="Alyndra", account=UserFactory(username="alice"))
    CharacterFactory(name="Borin", account=UserFactory(username="bob"))
    url = reverse("admin:characters_character_changelist")

    by_account = client.get(url, {"q": "alice", "deletion": "live"}).content.decode()
    assert "Alyndra" in by_account and "Borin" not in by_account


# --- Demo data ---------------------------------------------------------------------------------


def test_demo_seed_is_idempotent_and_creates_the_demo_characters() -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")

    worlds_demo.seed()
    characters_demo.seed()
    worlds_demo.seed()
    assert characters_demo.seed() == "demo characters already present"

    assert set(Realm.objects.values_list("slug", "region", "kind")) == {
        ("eldoria", "eu", "pve"),
        ("frostmere", "na", "pvp"),
    }
    assert set(Shard.objects.values_list("name", flat=True)) == {"eldoria-1", "frostmere-1"}
    assert {s.name for s in shards_served_locally()} == {"eldoria-1", "frostmere-1"}
    assert set(Character.objects.values_list("name", "account__username", "class_id")) == {
        ("Alyndra", "alice", "mage"),
        ("Borin", "bob", "warrior"),
    }


def test_demo_characters_are_skipped_without_their_accounts() -> None:
    worlds_demo.seed()

    characters_demo.seed()

    assert not Character.objects.exists()


def test_realm_summaries_take_three_queries_however_many_realms(django_assert_num_queries) -> None:
    from worlds.selectors import realm_summaries

    for index in range(4):
        ShardFactory(realm=RealmFactory(slug=f"r{index}"), name=f"r{index}-1")

    with django_assert_num_queries(3):
        summaries = realm_summaries()

    assert len(summaries) == 4
