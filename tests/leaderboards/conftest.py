"""Fixtures of the leaderboard tests: boards made through the model (validated like the admin),
seasons opened and scores written through the real services, a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from characters.models import Character
from liveops.leaderboard_services import leaderboard_definition_check, season_current_or_open
from liveops.models import Leaderboard
from tests.characters.factories import CharacterFactory, RealmFactory
from worlds.models import Realm

# A Wednesday: its weekly season runs Monday 2 March → Monday 9 March 2026.
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

MakeBoard = Callable[..., Leaderboard]


@pytest.fixture
def make_board(db: None) -> MakeBoard:
    def _make(key: str = "arena", *, now: datetime = NOW, **fields: Any) -> Leaderboard:
        board = Leaderboard(key=key, title=key.title(), **fields)
        leaderboard_definition_check(board)
        board.save()
        season_current_or_open(board=board, now=now)
        return board

    return _make


@pytest.fixture
def realm(db: None) -> Realm:
    return RealmFactory(slug="eldoria", name="Eldoria")


@pytest.fixture
def other_realm(db: None) -> Realm:
    return RealmFactory(slug="frostmere", name="Frostmere")


@pytest.fixture
def heroes(realm: Realm) -> list[Character]:
    return [CharacterFactory(realm=realm, name=name) for name in ("Ayla", "Brann", "Cora", "Dax")]
