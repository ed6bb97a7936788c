"""Factories for realms, shards and characters (shared by tests/characters and tests/worlds)."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from characters.models import Character
from tests.factories import UserFactory
from worlds.models import Realm, Shard, ShardStatus


class RealmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Realm
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"realm{n}")
    name = factory.LazyAttribute(lambda realm: realm.slug.title())
    region = "eu"
    kind = "pve"


class ShardFactory(factory.django.DjangoModelFactory):
    """A healthy shard (online, heartbeat now) unless told otherwise."""

    class Meta:
        model = Shard

    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: f"shard-{n}")
    region = factory.LazyAttribute(lambda shard: shard.realm.region)
    capacity = 100
    population = 0
    status = ShardStatus.ONLINE
    last_heartbeat = factory.LazyFunction(timezone.now)


class CharacterFactory(factory.django.DjangoModelFactory):
    """A character written straight to the table (tests of creation go through the service)."""

    class Meta:
        model = Character

    account = factory.SubFactory(UserFactory)
    realm = factory.SubFactory(RealmFactory)
    name = factory.Sequence(lambda n: "Hero" + "".join(chr(ord("a") + int(d)) for d in str(n)))
    name_key = factory.LazyAttribute(lambda character: character.name.casefold())
    class_id = "warrior"
    race_id = "human"
    appearance: Any = factory.LazyFunction(lambda: {"body": 1, "hair": 1, "color": "ember"})
    zone = "town"
    x = 10.5
    y = 10.5
    hp = 120
    max_hp = 120
    resource = 100
    max_resource = 100
    stats: Any = factory.LazyFunction(lambda: {"str": 15, "agi": 11, "int": 6, "spi": 8})
