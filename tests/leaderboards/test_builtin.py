"""Built-in boards: character level/xp per realm and gold wealth, refreshed from game data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from characters.models import Character
from economy.services import wallet_grant
from liveops.leaderboard_services import leaderboard_builtin_refresh
from liveops.models import LeaderboardRecord
from tests.leaderboards.conftest import NOW, MakeBoard

pytestmark = pytest.mark.django_db


def records(board_key: str) -> dict[str, tuple[int, int]]:
    return {
        r.character.name: (r.score, r.subscore)
        for r in LeaderboardRecord.objects.filter(season__board__key=board_key)
    }


def test_level_board_snapshots_level_and_xp(make_board: MakeBoard, heroes) -> None:
    make_board("level", source="character_level", operator="set", scope="realm")
    Character.objects.filter(pk=heroes[0].pk).update(level=12, xp=3400)
    Character.objects.filter(pk=heroes[1].pk).update(level=12, xp=9000)

    changed = leaderboard_builtin_refresh(now=NOW)

    assert changed == {"level": 4}
    assert records("level")["Ayla"] == (12, 3400)
    assert records("level")["Brann"] == (12, 9000)
    assert records("level")["Cora"] == (1, 0)


def test_a_second_refresh_only_touches_what_changed(make_board: MakeBoard, heroes) -> None:
    make_board("level", source="character_level", operator="set")
    leaderboard_builtin_refresh(now=NOW)
    Character.objects.filter(pk=heroes[2].pk).update(level=5)

    changed = leaderboard_builtin_refresh(now=NOW + timedelta(minutes=5))

    assert changed == {"level": 1}
    times = dict(LeaderboardRecord.objects.values_list("character__name", "updated_at"))
    assert times["Cora"] == NOW + timedelta(minutes=5)
    assert times["Ayla"] == NOW


def test_wealth_board_reads_gold_balances(make_board: MakeBoard, heroes) -> None:
    make_board("wealth", source="wealth_gold", operator="set")
    wallet_grant(
        character=heroes[1],
        currency="gold",
        amount=750,
        source="gm",
        actor=None,
        reason="test",
        idempotency_key="wealth-test",
    )
    leaderboard_builtin_refresh(now=NOW)
    assert records("wealth")["Brann"] == (750, 0)
    assert records("wealth")["Ayla"] == (0, 0)


def test_deleted_characters_are_not_added(make_board: MakeBoard, heroes) -> None:
    make_board("level", source="character_level", operator="set")
    Character.objects.filter(pk=heroes[3].pk).update(deleted_at=NOW)
    leaderboard_builtin_refresh(now=NOW)
    assert "Dax" not in records("level")


def test_disabled_and_submitted_boards_are_not_refreshed(make_board: MakeBoard, heroes) -> None:
    make_board("level", source="character_level", operator="set", enabled=False)
    make_board("arena")
    assert leaderboard_builtin_refresh(now=NOW) == {}
    assert LeaderboardRecord.objects.count() == 0
