"""Score submission: the three operators, refusals, and ranks with deterministic ties."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from characters.models import Character
from liveops.leaderboard_selectors import season_get, season_ranks_for_characters, season_standings
from liveops.leaderboard_services import leaderboard_submit_score
from liveops.models import LeaderboardRecord
from mmo_platform.errors import Conflict, NotFound, ValidationFailed
from tests.characters.factories import CharacterFactory
from tests.leaderboards.conftest import NOW, MakeBoard
from worlds.models import Realm

pytestmark = pytest.mark.django_db


def submit(board_key: str, character: Character, score: int, subscore: int = 0, at: int = 0):
    return leaderboard_submit_score(
        board_key=board_key,
        character=character,
        score=score,
        subscore=subscore,
        now=NOW + timedelta(seconds=at),
    )


def scores_of(board_key: str) -> dict[str, int]:
    return {
        r.character.name: r.score
        for r in LeaderboardRecord.objects.filter(season__board__key=board_key)
    }


def test_best_keeps_the_highest_score_and_its_time(make_board: MakeBoard, heroes) -> None:
    make_board("arena", operator="best")
    submit("arena", heroes[0], 50, at=1)
    submit("arena", heroes[0], 30, at=2)
    record = submit("arena", heroes[0], 50, subscore=0, at=3)
    assert record.score == 50
    # An equal score is not an improvement: the earlier achievement time is kept for ties.
    assert record.updated_at == NOW + timedelta(seconds=1)
    assert submit("arena", heroes[0], 70, at=4).score == 70


def test_best_on_an_ascending_board_keeps_the_lowest(make_board: MakeBoard, heroes) -> None:
    make_board("speedrun", operator="best", sort_order="asc")
    submit("speedrun", heroes[0], 300)
    submit("speedrun", heroes[0], 280)
    submit("speedrun", heroes[0], 310)
    assert scores_of("speedrun") == {"Ayla": 280}


def test_set_keeps_the_latest_even_when_worse(make_board: MakeBoard, heroes) -> None:
    make_board("rating", operator="set")
    submit("rating", heroes[0], 1500)
    submit("rating", heroes[0], 1420)
    assert scores_of("rating") == {"Ayla": 1420}


def test_incr_adds_score_and_subscore(make_board: MakeBoard, heroes) -> None:
    make_board("wolves", operator="incr")
    submit("wolves", heroes[0], 3, subscore=1)
    record = submit("wolves", heroes[0], 4, subscore=2)
    assert (record.score, record.subscore) == (7, 3)
    assert LeaderboardRecord.objects.count() == 1


@pytest.mark.parametrize("bad", [1.5, "10", True, None, 2**62, -(2**62)])
def test_malformed_scores_are_refused_and_store_nothing(make_board: MakeBoard, heroes, bad) -> None:
    make_board("arena")
    with pytest.raises(ValidationFailed) as refused:
        leaderboard_submit_score(board_key="arena", character=heroes[0], score=bad)
    assert refused.value.code == "bad_score"
    assert LeaderboardRecord.objects.count() == 0


def test_incr_past_the_limit_is_refused(make_board: MakeBoard, heroes) -> None:
    make_board("wolves", operator="incr")
    submit("wolves", heroes[0], 2**62 - 1)
    with pytest.raises(ValidationFailed):
        submit("wolves", heroes[0], 1)
    assert scores_of("wolves") == {"Ayla": 2**62 - 1}


def test_unknown_disabled_and_builtin_boards_refuse_scores(make_board: MakeBoard, heroes) -> None:
    make_board("off", enabled=False)
    make_board("level", source="character_level", operator="set")
    with pytest.raises(NotFound) as unknown:
        submit("nope", heroes[0], 1)
    with pytest.raises(Conflict) as disabled:
        submit("off", heroes[0], 1)
    with pytest.raises(Conflict) as builtin:
        submit("level", heroes[0], 99)
    assert (unknown.value.code, disabled.value.code, builtin.value.code) == (
        "unknown_leaderboard",
        "leaderboard_disabled",
        "leaderboard_builtin",
    )
    assert LeaderboardRecord.objects.count() == 0


def test_deleted_character_cannot_score(make_board: MakeBoard, heroes) -> None:
    make_board("arena")
    heroes[0].deleted_at = timezone.now()
    heroes[0].save()
    with pytest.raises(Conflict) as refused:
        submit("arena", heroes[0], 10)
    assert refused.value.code == "character_deleted"


def test_ties_break_on_subscore_then_time_then_character(make_board: MakeBoard, heroes) -> None:
    board = make_board("arena", operator="set")
    ayla, brann, cora, dax = heroes
    submit("arena", dax, 100, subscore=5, at=9)  # best subscore wins the tie on score
    submit("arena", cora, 100, subscore=1, at=3)  # same score and subscore as Brann but earlier
    submit("arena", brann, 100, subscore=1, at=4)
    submit("arena", ayla, 200, at=10)
    season = season_get(board=board, number=None)

    page = season_standings(season=season, realm=None, limit=10)

    assert [(row.rank, row.character_name) for row in page.rows] == [
        (1, "Ayla"),
        (2, "Dax"),
        (3, "Cora"),
        (4, "Brann"),
    ]
    mine = season_ranks_for_characters(season=season, characters=[brann, dax])
    assert [(m.character.name, m.rank) for m in mine] == [("Brann", 4), ("Dax", 2)]


def test_same_score_at_the_same_instant_ranks_the_older_character_first(
    make_board: MakeBoard, heroes
) -> None:
    board = make_board("arena")
    submit("arena", heroes[3], 10, at=1)
    submit("arena", heroes[1], 10, at=1)
    season = season_get(board=board, number=None)
    names = [
        row.character_name for row in season_standings(season=season, realm=None, limit=5).rows
    ]
    assert names == ["Brann", "Dax"]  # Brann's id is lower
    ranks = season_ranks_for_characters(season=season, characters=[heroes[3], heroes[1]])
    assert [r.rank for r in ranks] == [2, 1]


def test_pagination_continues_the_ranks(make_board: MakeBoard, heroes) -> None:
    board = make_board("arena")
    for index, hero in enumerate(heroes):
        submit("arena", hero, 10 * (index + 1))
    season = season_get(board=board, number=None)
    page = season_standings(season=season, realm=None, limit=2, offset=2)
    assert [(r.rank, r.character_name) for r in page.rows] == [(3, "Brann"), (4, "Ayla")]
    assert page.total == 4


def test_deleted_characters_are_neither_shown_nor_counted(make_board: MakeBoard, heroes) -> None:
    board = make_board("arena")
    submit("arena", heroes[0], 100)
    submit("arena", heroes[1], 50)
    Character.objects.filter(pk=heroes[0].pk).update(deleted_at=timezone.now())
    season = season_get(board=board, number=None)
    page = season_standings(season=season, realm=None, limit=5)
    assert [(r.rank, r.character_name) for r in page.rows] == [(1, "Brann")]
    assert season_ranks_for_characters(season=season, characters=[heroes[1]])[0].rank == 1


def test_per_realm_boards_rank_each_realm_separately(
    make_board: MakeBoard, heroes, other_realm: Realm
) -> None:
    board = make_board("arena", scope="realm")
    stranger = CharacterFactory(realm=other_realm, name="Zed")
    submit("arena", heroes[0], 10)
    submit("arena", stranger, 99)
    season = season_get(board=board, number=None)
    local = season_standings(season=season, realm=heroes[0].realm, limit=5)
    assert [(r.rank, r.character_name) for r in local.rows] == [(1, "Ayla")]
    assert season_ranks_for_characters(season=season, characters=[heroes[0]])[0].rank == 1


def test_a_standings_page_costs_two_queries(
    make_board: MakeBoard, heroes, django_assert_num_queries
) -> None:
    board = make_board("arena")
    for index, hero in enumerate(heroes):
        submit("arena", hero, index)
    season = season_get(board=board, number=None)
    with django_assert_num_queries(2):
        page = season_standings(season=season, realm=None, limit=100)
        assert len(page.rows) == 4
