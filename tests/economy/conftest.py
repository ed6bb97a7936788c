"""Fixtures for economy tests: characters in one realm, money and items given through the real
grant services (never written to the tables directly)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from characters.models import Character
from economy.services import economy_grant
from tests.characters.factories import CharacterFactory, RealmFactory
from worlds.models import Realm

_keys = itertools.count()


def fresh_key(prefix: str = "test") -> str:
    return f"{prefix}-{next(_keys)}"


@pytest.fixture
def realm(db: None) -> Realm:
    return RealmFactory(slug="economy-realm")


@pytest.fixture
def hero(realm: Realm) -> Character:
    return CharacterFactory(realm=realm, name="Alice", level=20)


@pytest.fixture
def other(realm: Realm) -> Character:
    return CharacterFactory(realm=realm, name="Bob", level=20)


Give = Callable[..., list[int]]


@pytest.fixture
def give() -> Give:
    """give(character, gold=0, gems=0, items=[("iron_sword", 1)]) -> new item ids."""

    def _give(
        character: Character,
        *,
        gold: int = 0,
        gems: int = 0,
        items: list[tuple[str, int]] | None = None,
    ) -> list[int]:
        ids: list[int] = []
        for currency, amount in (("gold", gold), ("gems", gems)):
            if amount:
                economy_grant(
                    character=character,
                    source="gm",
                    actor=None,
                    reason="test setup",
                    idempotency_key=fresh_key(),
                    currency=currency,
                    amount=amount,
                )
        for item_id, quantity in items or []:
            result = economy_grant(
                character=character,
                source="gm",
                actor=None,
                reason="test setup",
                idempotency_key=fresh_key(),
                items=[(item_id, quantity)],
            )
            ids.extend(result.item_ids)
        return ids

    return _give
