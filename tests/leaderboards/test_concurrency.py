"""On PostgreSQL, with real threads (one connection each): concurrent rollovers open exactly one
new season and pay each reward once; concurrent increments of one record all count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections

from economy.models import LedgerTransaction
from economy.selectors import wallet_balances
from liveops.leaderboard_services import leaderboard_seasons_rollover, leaderboard_submit_score
from liveops.models import LeaderboardRecord, LeaderboardSeason
from tests.leaderboards.conftest import NOW, MakeBoard
from tests.leaderboards.test_rollover import MONDAY, REWARDS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def together(workers: int, job: Callable[[int], Any]) -> list[Any]:
    start, results, errors = threading.Barrier(workers), [None] * workers, []

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            results[index] = job(index)
        except Exception as exc:  # surfaced below: any error fails the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_concurrent_rollovers_open_one_season_and_pay_once(make_board: MakeBoard, heroes) -> None:
    make_board("weekly", rewards=REWARDS)
    for score, hero in zip((3, 2, 1), heroes, strict=False):
        leaderboard_submit_score(board_key="weekly", character=hero, score=score, now=NOW)

    reports = together(4, lambda _: leaderboard_seasons_rollover(now=MONDAY + timedelta(seconds=5)))

    statuses = list(LeaderboardSeason.objects.order_by("number").values_list("number", "status"))
    assert statuses == [(1, "closed"), (2, "active")]
    assert sum(len(r.outcomes) for r in reports) == 1
    assert sum(r.rewards_granted for r in reports) == 3
    assert [wallet_balances(character_id=h.pk)["gold"] for h in heroes[:3]] == [500, 200, 200]
    assert LedgerTransaction.objects.filter(idempotency_key__contains="leaderboard:").count() == 3


def test_concurrent_increments_of_one_record_all_count(make_board: MakeBoard, heroes) -> None:
    make_board("wolves", operator="incr")

    together(
        6,
        lambda i: [
            leaderboard_submit_score(board_key="wolves", character=heroes[0], score=1, now=NOW)
            for _ in range(5)
        ],
    )

    record = LeaderboardRecord.objects.get()
    assert record.score == 30


def test_a_score_being_written_while_the_season_closes_still_gets_its_final_rank(
    make_board: MakeBoard, heroes
) -> None:
    """The rollover waits for in-flight submissions (they hold the season FOR KEY SHARE), so a
    score committed during the close is ranked, never left unranked in a closed season."""
    from django.db import transaction

    from liveops.leaderboard_services import _record_apply, _season_hold
    from liveops.models import Leaderboard

    board = make_board("weekly")
    season = LeaderboardSeason.objects.get()
    holding, release = threading.Event(), threading.Event()

    def slow_submission(_: int) -> None:
        with transaction.atomic():
            assert _season_hold(season.pk)
            holding.set()
            release.wait(timeout=30)
            _record_apply(Leaderboard.objects.get(pk=board.pk), season, heroes[0], 7, 0, NOW)

    def rollover(_: int) -> None:
        holding.wait(timeout=30)
        threading.Timer(0.5, release.set).start()  # the rollover must wait for this commit
        leaderboard_seasons_rollover(now=MONDAY)

    together(2, lambda i: (slow_submission if i == 0 else rollover)(i))

    record = LeaderboardRecord.objects.get()
    assert record.season_id == season.pk and record.final_rank == 1
