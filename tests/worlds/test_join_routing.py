"""Shard choice for a join: region, load, health; never draining, maintenance or stale."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.characters.factories import RealmFactory, ShardFactory
from tests.factories import UserFactory
from worlds.models import ShardReservation, ShardStatus
from worlds.selectors import shard_pick_for_join

pytestmark = pytest.mark.django_db


def test_least_loaded_shard_by_fill_ratio_wins() -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, name="a", capacity=100, population=60)
    small_but_emptier = ShardFactory(realm=realm, name="b", capacity=10, population=5)

    assert shard_pick_for_join(realm=realm, region="eu") == small_but_emptier


def test_players_region_is_preferred_while_it_has_room() -> None:
    realm = RealmFactory(region="eu")
    ShardFactory(realm=realm, name="na-1", region="na", population=0)
    busy_local = ShardFactory(realm=realm, name="eu-1", region="eu", population=90)

    assert shard_pick_for_join(realm=realm, region="eu") == busy_local


def test_other_region_is_used_when_the_players_region_is_full() -> None:
    realm = RealmFactory(region="eu")
    ShardFactory(realm=realm, name="eu-1", region="eu", capacity=10, population=10)
    remote = ShardFactory(realm=realm, name="na-1", region="na", population=50)

    assert shard_pick_for_join(realm=realm, region="eu") == remote


@pytest.mark.parametrize(
    "status", [ShardStatus.DRAINING, ShardStatus.MAINTENANCE, ShardStatus.OFFLINE]
)
def test_shards_not_online_are_never_chosen(status: str) -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, name="empty-but-not-online", status=status, population=0)
    online = ShardFactory(realm=realm, name="busy", population=99)

    assert shard_pick_for_join(realm=realm, region="eu") == online


@override_settings(SHARD_HEARTBEAT_TIMEOUT_SECONDS=15)
def test_shard_with_a_stale_heartbeat_counts_as_down() -> None:
    now = timezone.now()
    realm = RealmFactory()
    ShardFactory(realm=realm, name="stale", last_heartbeat=now - timedelta(seconds=16))
    ShardFactory(realm=realm, name="never", last_heartbeat=None)
    fresh = ShardFactory(realm=realm, name="fresh", population=80, last_heartbeat=now)

    assert shard_pick_for_join(realm=realm, region="eu", now=now) == fresh
    assert shard_pick_for_join(realm=realm, region="eu", now=now + timedelta(seconds=16)) is None


def test_full_shards_are_skipped_and_all_full_means_none() -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, name="a", capacity=5, population=5)
    ShardFactory(realm=realm, name="b", capacity=5, population=7)  # over-full after a restart

    assert shard_pick_for_join(realm=realm, region="eu") is None


def test_held_slots_count_towards_the_load() -> None:
    realm = RealmFactory()
    now = timezone.now()
    nearly_full = ShardFactory(realm=realm, name="a", capacity=2, population=1)
    other = ShardFactory(realm=realm, name="b", capacity=100, population=90)
    _reserve(nearly_full, expires_at=now + timedelta(seconds=30))

    assert shard_pick_for_join(realm=realm, region="eu", now=now) == other


def test_expired_reservation_no_longer_holds_a_slot_but_a_redeemed_one_does() -> None:
    realm = RealmFactory()
    now = timezone.now()
    shard = ShardFactory(realm=realm, name="a", capacity=2, population=1)
    _reserve(shard, expires_at=now - timedelta(seconds=1))
    assert shard_pick_for_join(realm=realm, region="eu", now=now) == shard

    _reserve(shard, expires_at=now - timedelta(seconds=1), redeemed_at=now)
    assert shard_pick_for_join(realm=realm, region="eu", now=now) is None


def test_shard_must_host_the_characters_zone() -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, name="dungeons", zones=["dungeon_entrance"], population=0)
    everything = ShardFactory(realm=realm, name="all", zones=[], population=50)

    assert shard_pick_for_join(realm=realm, region="eu", zone="town") == everything
    assert shard_pick_for_join(realm=realm, region="eu", zone="dungeon_entrance").name == "dungeons"


def test_ties_are_broken_by_shard_name() -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, name="shard-b", population=10)
    ShardFactory(realm=realm, name="shard-a", population=10)

    assert shard_pick_for_join(realm=realm, region="eu").name == "shard-a"


def test_shards_of_other_realms_are_never_chosen() -> None:
    ShardFactory(realm=RealmFactory(slug="other"), name="other-1")

    assert shard_pick_for_join(realm=RealmFactory(slug="mine"), region="eu") is None


def _reserve(shard, *, expires_at, redeemed_at=None):
    from tests.characters.factories import CharacterFactory

    character = CharacterFactory(realm=shard.realm)
    return ShardReservation.objects.create(
        account=UserFactory(),
        shard=shard,
        character=character,
        expires_at=expires_at,
        redeemed_at=redeemed_at,
    )


def test_shard_choice_is_one_query_however_many_shards(django_assert_num_queries) -> None:
    realm = RealmFactory()
    for index in range(6):
        ShardFactory(realm=realm, name=f"s{index}", population=index)

    with django_assert_num_queries(1):
        shard_pick_for_join(realm=realm, region="eu")
