"""Races the database must settle (PostgreSQL row locks and unique indexes): two creations of
one name, creations past the per-realm limit, and joins into the last free slot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from characters.models import Character
from characters.services import character_create
from mmo_platform.errors import DomainError
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.factories import UserFactory
from worlds.services import world_join

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPEARANCE = {"body": 1, "hair": 1, "color": "ember"}


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each in its own thread and DB connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except DomainError as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_creations_of_one_name_leave_exactly_one_winner() -> None:
    realm = RealmFactory()
    users = [UserFactory() for _ in range(4)]

    results = run_together(
        [
            lambda user=user: character_create(
                user=user,
                realm_slug=realm.slug,
                name="Alyndra",
                class_id="mage",
                race_id="elf",
                appearance=APPEARANCE,
            )
            for user in users
        ]
    )

    winners = [r for r in results if isinstance(r, Character)]
    assert len(winners) == 1
    assert sorted(r.code for r in results if isinstance(r, DomainError)) == ["name_taken"] * 3
    assert Character.objects.filter(name_key="alyndra").count() == 1


@override_settings(CHARACTERS_PER_REALM=2)
def test_concurrent_creations_cannot_exceed_the_per_realm_limit() -> None:
    realm = RealmFactory()
    user = UserFactory()

    results = run_together(
        [
            lambda name=name: character_create(
                user=user,
                realm_slug=realm.slug,
                name=name,
                class_id="warrior",
                race_id="orc",
                appearance=APPEARANCE,
            )
            for name in ("Aaa", "Bbb", "Ccc", "Ddd")
        ]
    )

    assert Character.objects.filter(account=user).count() == 2
    assert sorted(r.code for r in results if isinstance(r, DomainError)) == ["character_limit"] * 2


def test_concurrent_joins_never_overfill_a_shard() -> None:
    realm = RealmFactory()
    ShardFactory(realm=realm, capacity=3, population=1)
    characters = [CharacterFactory(realm=realm) for _ in range(5)]

    results = run_together(
        [lambda c=c: world_join(user=c.account, character_id=c.pk) for c in characters]
    )

    statuses = sorted(r.status for r in results)
    assert statuses == ["queued"] * 3 + ["ready"] * 2
    assert sorted(r.position for r in results if r.status == "queued") == [1, 2, 3]
