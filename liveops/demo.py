"""Demo/bootstrap data of liveops (called by ``manage.py seed_demo``): the periodic job
schedules, so a fresh install has its backups, sampling and housekeeping scheduled, and three
leaderboards with an active season (two built-in boards filled at once, one with demo scores)."""

from __future__ import annotations

import contextlib
from typing import Any

from characters.models import Character
from liveops.leaderboard_services import (
    leaderboard_builtin_refresh,
    leaderboard_definition_check,
    leaderboard_submit_score,
    season_current_or_open,
)
from liveops.models import Leaderboard
from liveops.schedules import ops_schedules_ensure
from mmo_platform.errors import DomainError

DEMO_BOARDS: tuple[dict[str, Any], ...] = (
    {
        "key": "level",
        "title": "Highest level",
        "description": "Characters by level, then experience. Ranked per realm.",
        "scope": "realm",
        "source": "character_level",
        "operator": "set",
        "reset_schedule": "monthly",
    },
    {
        "key": "wealth",
        "title": "Richest adventurers",
        "description": "Gold in the character's wallet, across all realms.",
        "scope": "global",
        "source": "wealth_gold",
        "operator": "set",
        "reset_schedule": "weekly",
    },
    {
        "key": "wolf-hunt",
        "title": "Wolf hunt",
        "description": "Most wolves slain in a single hunt this week. Top 3 earn gold.",
        "scope": "global",
        "source": "submitted",
        "operator": "best",
        "reset_schedule": "weekly",
        "rewards": [
            {"ranks": [1, 1], "currency": "gold", "amount": 500},
            {"ranks": [2, 3], "currency": "gold", "amount": 200},
        ],
    },
)
# character name → wolves in their best hunt (``best`` keeps the max: reseeding changes nothing)
DEMO_WOLF_HUNTS = {"Alyndra": 14, "Borin": 9}


def seed() -> str:
    report = ops_schedules_ensure()
    summary = f"schedules: {len(report.created)} created, {len(report.kept)} kept"
    if report.skipped_unregistered:
        summary += f", not registered: {', '.join(report.skipped_unregistered)}"
    return f"{summary}; {_seed_leaderboards()}"


def _seed_leaderboards() -> str:
    created = 0
    for definition in DEMO_BOARDS:
        board = Leaderboard.objects.filter(key=definition["key"]).first()
        if board is None:
            board = Leaderboard(**definition)
            leaderboard_definition_check(board)
            board.save()
            created += 1
        season_current_or_open(board=board)
    leaderboard_builtin_refresh()
    for character in Character.objects.filter(
        name__in=DEMO_WOLF_HUNTS, deleted_at__isnull=True, purged_at__isnull=True
    ):
        with contextlib.suppress(DomainError):  # an operator disabled the demo board
            leaderboard_submit_score(
                board_key="wolf-hunt", character=character, score=DEMO_WOLF_HUNTS[character.name]
            )
    return f"leaderboards: {created} created, {len(DEMO_BOARDS) - created} kept"
