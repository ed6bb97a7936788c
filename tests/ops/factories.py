"""Data for the operations tests: users, realms and shards, created through the models."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.factories import UserFactory
from worlds.models import Realm, Shard, ShardStatus


def realm_create(slug: str = "testrealm") -> Realm:
    realm, _ = Realm.objects.get_or_create(
        slug=slug, defaults={"name": slug.title(), "region": "eu"}
    )
    return realm


def shard_create(
    name: str,
    *,
    realm: Realm | None = None,
    status: str = ShardStatus.ONLINE,
    population: int = 0,
    heartbeat_seconds_ago: float | None = 1.0,
) -> Shard:
    heartbeat = (
        None
        if heartbeat_seconds_ago is None
        else timezone.now() - timedelta(seconds=heartbeat_seconds_ago)
    )
    return Shard.objects.create(
        realm=realm or realm_create(),
        name=name,
        region="eu",
        status=status,
        population=population,
        zone_populations={"town": population} if population else {},
        last_heartbeat=heartbeat,
    )


def sample_data() -> None:
    """A few rows in several key tables, including text that needs quoting."""
    for i in range(3):
        UserFactory(username=f"ops_user_{i}", first_name='O\'Brien, "quoted"\nline')
    realm = realm_create()
    shard_create("ops-a", realm=realm, population=12)
    shard_create("ops-b", realm=realm, population=3, status=ShardStatus.DRAINING)
