"""Season rollover: closes once, freezes ranks, opens the next season on the calendar, catches
up after missed periods, grants top-N rewards once (also when retried), GM early close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from economy.models import LedgerTransaction
from economy.selectors import wallet_balances
from liveops.leaderboard_selectors import season_get, season_standings
from liveops.leaderboard_services import (
    leaderboard_season_close_now,
    leaderboard_seasons_rollover,
    leaderboard_submit_score,
)
from liveops.models import LeaderboardRecord, LeaderboardSeason, RewardState, SeasonStatus
from mmo_platform.errors import Conflict, ValidationFailed
from tests.factories import UserFactory
from tests.leaderboards.conftest import NOW, MakeBoard

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 9, tzinfo=UTC)  # end of the weekly season containing NOW
REWARDS = [
    {"ranks": [1, 1], "currency": "gold", "amount": 500},
    {"ranks": [2, 3], "currency": "gold", "amount": 200, "items": [["bread", 2]]},
]


def seasons(board_key: str) -> list[tuple[int, str, datetime, datetime | None]]:
    return [
        (s.number, s.status, s.starts_at, s.ends_at)
        for s in LeaderboardSeason.objects.filter(board__key=board_key).order_by("number")
    ]


def test_first_season_is_aligned_to_the_calendar(make_board: MakeBoard) -> None:
    make_board("weekly", reset_schedule="weekly")
    make_board("daily", reset_schedule="daily")
    make_board("monthly", reset_schedule="monthly")
    make_board("forever", reset_schedule="never")
    assert seasons("weekly") == [(1, "active", datetime(2026, 3, 2, tzinfo=UTC), MONDAY)]
    assert seasons("daily")[0][2:] == (
        datetime(2026, 3, 4, tzinfo=UTC),
        datetime(2026, 3, 5, tzinfo=UTC),
    )
    assert seasons("monthly")[0][2:] == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert seasons("forever") == [(1, "active", NOW, None)]


def test_nothing_happens_before_the_season_ends(make_board: MakeBoard) -> None:
    make_board("weekly")
    report = leaderboard_seasons_rollover(now=MONDAY - timedelta(seconds=1))
    assert report.outcomes == []
    assert [s[1] for s in seasons("weekly")] == ["active"]


def test_rollover_closes_once_freezes_ranks_and_opens_the_next_week(
    make_board: MakeBoard, heroes
) -> None:
    board = make_board("weekly", operator="set")
    for score, hero in zip((30, 10, 20), heroes, strict=False):
        leaderboard_submit_score(board_key="weekly", character=hero, score=score, now=NOW)

    first = leaderboard_seasons_rollover(now=MONDAY + timedelta(seconds=30))
    again = leaderboard_seasons_rollover(now=MONDAY + timedelta(seconds=45))

    assert [(o.closed_season, o.opened_season) for o in first.outcomes] == [(1, 2)]
    assert again.outcomes == []
    assert seasons("weekly") == [
        (1, "closed", datetime(2026, 3, 2, tzinfo=UTC), MONDAY),
        (2, "active", MONDAY, MONDAY + timedelta(days=7)),
    ]
    frozen = dict(
        LeaderboardRecord.objects.filter(season__number=1).values_list(
            "character__name", "final_rank"
        )
    )
    assert frozen == {"Ayla": 1, "Cora": 2, "Brann": 3}
    closed = season_get(board=board, number=1)
    ranks = [
        (r.rank, r.character_name)
        for r in season_standings(season=closed, realm=None, limit=9).rows
    ]
    assert ranks == [(1, "Ayla"), (2, "Cora"), (3, "Brann")]


def test_missed_periods_open_only_the_season_containing_now(make_board: MakeBoard) -> None:
    make_board("weekly")
    three_weeks_later = MONDAY + timedelta(days=16, hours=5)  # Wednesday of the third week after
    leaderboard_seasons_rollover(now=three_weeks_later)
    assert seasons("weekly")[1:] == [
        (2, "active", MONDAY + timedelta(days=14), MONDAY + timedelta(days=21))
    ]


def test_never_resetting_boards_do_not_roll_over(make_board: MakeBoard) -> None:
    make_board("forever", reset_schedule="never")
    assert leaderboard_seasons_rollover(now=NOW + timedelta(days=400)).outcomes == []
    assert len(seasons("forever")) == 1


def test_a_score_after_the_end_rolls_over_first_and_lands_in_the_new_season(
    make_board: MakeBoard, heroes
) -> None:
    make_board("weekly")
    leaderboard_submit_score(board_key="weekly", character=heroes[0], score=5, now=NOW)
    record = leaderboard_submit_score(
        board_key="weekly", character=heroes[0], score=3, now=MONDAY + timedelta(minutes=1)
    )
    assert record.season.number == 2 and record.score == 3
    assert [s[1] for s in seasons("weekly")] == ["closed", "active"]


def test_top_n_rewards_are_granted_once_through_the_economy(make_board: MakeBoard, heroes) -> None:
    make_board("weekly", rewards=REWARDS)
    for score, hero in zip((40, 30, 20, 10), heroes, strict=True):
        leaderboard_submit_score(board_key="weekly", character=hero, score=score, now=NOW)

    report = leaderboard_seasons_rollover(now=MONDAY)
    leaderboard_seasons_rollover(now=MONDAY + timedelta(minutes=1))

    assert (report.rewards_granted, report.rewards_failed) == (3, 0)
    gold = [wallet_balances(character_id=hero.pk)["gold"] for hero in heroes]
    assert gold == [500, 200, 200, 0]
    states = dict(LeaderboardRecord.objects.values_list("character__name", "reward_state"))
    assert states == {"Ayla": "granted", "Brann": "granted", "Cora": "granted", "Dax": "none"}
    keys = sorted(
        LedgerTransaction.objects.filter(idempotency_key__contains="leaderboard:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(keys) == 3 and all(key.endswith(("rank:1", "rank:2", "rank:3")) for key in keys)


def test_a_retried_grant_after_a_crash_does_not_pay_twice(make_board: MakeBoard, heroes) -> None:
    make_board("weekly", rewards=REWARDS)
    leaderboard_submit_score(board_key="weekly", character=heroes[0], score=1, now=NOW)
    leaderboard_seasons_rollover(now=MONDAY)
    # The worker died after the economy committed but before the record said so.
    LeaderboardRecord.objects.update(reward_state=RewardState.PENDING)

    report = leaderboard_seasons_rollover(now=MONDAY + timedelta(minutes=1))

    assert report.rewards_granted == 1
    assert wallet_balances(character_id=heroes[0].pk)["gold"] == 500
    assert LedgerTransaction.objects.filter(idempotency_key__contains="leaderboard:").count() == 1


def test_gm_early_close_is_audited_and_the_next_season_starts_now(
    make_board: MakeBoard, heroes
) -> None:
    make_board("weekly")
    gm = UserFactory(username="gm", is_staff=True)
    season = LeaderboardSeason.objects.get(board__key="weekly", status=SeasonStatus.ACTIVE)

    outcome = leaderboard_season_close_now(season=season, actor=gm, reason="exploit found", now=NOW)

    season.refresh_from_db()
    assert (season.status, season.ends_at, season.closed_by, season.close_reason) == (
        "closed",
        NOW,
        gm,
        "exploit found",
    )
    assert season.closed_by_label == "gm"
    assert outcome.opened_season == 2
    assert seasons("weekly")[1] == (2, "active", NOW, MONDAY)
    with pytest.raises(Conflict):
        leaderboard_season_close_now(season=season, actor=gm, reason="again", now=NOW)
    assert len(seasons("weekly")) == 2


def test_gm_close_needs_a_reason(make_board: MakeBoard) -> None:
    make_board("weekly")
    season = LeaderboardSeason.objects.get(board__key="weekly")
    with pytest.raises(ValidationFailed):
        leaderboard_season_close_now(season=season, actor=UserFactory(), reason="  ", now=NOW)
    season.refresh_from_db()
    assert season.status == "active"


def test_only_one_active_season_per_board_is_a_database_rule(make_board: MakeBoard) -> None:
    from django.db import IntegrityError, transaction

    board = make_board("weekly")
    with pytest.raises(IntegrityError), transaction.atomic():
        LeaderboardSeason.objects.create(board=board, number=9, starts_at=NOW, ends_at=MONDAY)


def test_a_refused_reward_is_marked_failed_and_not_retried(make_board: MakeBoard, heroes) -> None:
    from liveops.leaderboard_services import (
        leaderboard_rewards_grant_pending,
        leaderboard_season_rollover,
    )

    board = make_board("weekly", rewards=REWARDS)
    leaderboard_submit_score(board_key="weekly", character=heroes[0], score=9, now=NOW)
    leaderboard_submit_score(board_key="weekly", character=heroes[1], score=5, now=NOW)
    leaderboard_season_rollover(board=board, now=MONDAY)
    heroes[0].deleted_at = MONDAY  # deleted between the close and the grant
    heroes[0].save()

    assert leaderboard_rewards_grant_pending() == (1, 1)
    assert leaderboard_rewards_grant_pending() == (0, 0)
    failed = LeaderboardRecord.objects.get(character=heroes[0])
    assert failed.reward_state == "failed" and "deleted" in failed.reward_error
    assert wallet_balances(character_id=heroes[1].pk)["gold"] == 200


def test_rewards_are_paid_as_the_tiers_stood_at_the_close(make_board: MakeBoard, heroes) -> None:
    from liveops.leaderboard_services import (
        leaderboard_rewards_grant_pending,
        leaderboard_season_rollover,
    )

    board = make_board("weekly", rewards=REWARDS)
    leaderboard_submit_score(board_key="weekly", character=heroes[0], score=9, now=NOW)
    leaderboard_season_rollover(board=board, now=MONDAY)
    # A GM edits the board before the payout job runs: the closed season keeps its tiers.
    board.rewards = [{"ranks": [1, 1], "currency": "gold", "amount": 99_999}]
    board.save()

    assert leaderboard_rewards_grant_pending() == (1, 0)
    assert wallet_balances(character_id=heroes[0].pk)["gold"] == 500
    closed = LeaderboardSeason.objects.get(board=board, status=SeasonStatus.CLOSED)
    assert closed.rewards == REWARDS
