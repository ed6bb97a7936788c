"""Leaderboard reads: boards, seasons, standings with ranks, and a player's own ranks.

Ranks are ordinal and deterministic: better score, then better subscore, then whoever reached
it first (``updated_at``), then the older character (lower id). Live ranks are computed from
that order; a closed season shows the ``final_rank`` frozen at close. Deleted characters are
not shown or ranked. Nothing here returns account ids or e-mails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from characters.models import Character
from liveops.models import (
    Leaderboard,
    LeaderboardRecord,
    LeaderboardScope,
    LeaderboardSeason,
    LeaderboardSortOrder,
    SeasonStatus,
)
from mmo_platform.errors import NotFound, ValidationFailed
from worlds.models import Realm

M = TypeVar("M", bound=Model)


def active_characters(queryset: QuerySet[M], *, field: str = "character__") -> QuerySet[M]:
    """``queryset`` without deleted or purged characters (``field`` leads to the character)."""
    return queryset.filter(
        **{f"{field}deleted_at__isnull": True, f"{field}purged_at__isnull": True}
    )


def record_ordering(board: Leaderboard) -> list[str]:
    """Best record first; a total order, so equal scores always rank the same way."""
    if board.sort_order == LeaderboardSortOrder.ASCENDING:
        return ["score", "subscore", "updated_at", "character_id"]
    return ["-score", "-subscore", "updated_at", "character_id"]


def _better_than(board: Leaderboard, record: LeaderboardRecord) -> Q:
    """Records ranked above ``record`` in the order of :func:`record_ordering`."""
    beats = "lt" if board.sort_order == LeaderboardSortOrder.ASCENDING else "gt"
    score, subscore = record.score, record.subscore
    return (
        Q(**{f"score__{beats}": score})
        | Q(score=score, **{f"subscore__{beats}": subscore})
        | Q(score=score, subscore=subscore, updated_at__lt=record.updated_at)
        | Q(
            score=score,
            subscore=subscore,
            updated_at=record.updated_at,
            character_id__lt=record.character_id,
        )
    )


def leaderboards_enabled() -> QuerySet[Leaderboard]:
    return Leaderboard.objects.filter(enabled=True).order_by("title", "pk")


def leaderboard_get(*, key: str) -> Leaderboard:
    """An enabled board; a disabled one answers like a missing one."""
    board = leaderboards_enabled().filter(key=key).first()
    if board is None:
        raise NotFound(f"No leaderboard {key!r}.", code="unknown_leaderboard")
    return board


def season_current(*, board: Leaderboard) -> LeaderboardSeason | None:
    return board.seasons.filter(status=SeasonStatus.ACTIVE).first()


def season_get(*, board: Leaderboard, number: int | None) -> LeaderboardSeason:
    """Season ``number`` of ``board``, or its current season when ``number`` is None."""
    season = (
        season_current(board=board)
        if number is None
        else board.seasons.filter(number=number).first()
    )
    if season is None:
        raise NotFound("No such season of this leaderboard.", code="unknown_season")
    return season


def seasons_closed(*, board: Leaderboard) -> QuerySet[LeaderboardSeason]:
    return board.seasons.filter(status=SeasonStatus.CLOSED).order_by("-number")


def realm_for_standings(*, board: Leaderboard, slug: str | None) -> Realm | None:
    """The realm a per-realm board is shown for (required there); None for global boards."""
    if board.scope != LeaderboardScope.REALM:
        return None
    if not slug:
        raise ValidationFailed(
            "This leaderboard ranks each realm separately: choose a realm.", code="realm_required"
        )
    realm = Realm.objects.filter(slug=slug).first()
    if realm is None:
        raise NotFound(f"No realm {slug!r}.", code="unknown_realm")
    return realm


@dataclass(frozen=True)
class StandingRow:
    rank: int
    character_name: str
    realm_slug: str
    realm_name: str
    score: int
    subscore: int


@dataclass(frozen=True)
class StandingsPage:
    total: int
    rows: list[StandingRow]


def _ranked_records(season: LeaderboardSeason, realm: Realm | None) -> QuerySet[LeaderboardRecord]:
    records = active_characters(season.records.all())
    if realm is not None:
        records = records.filter(realm=realm)
    if season.status == SeasonStatus.CLOSED:
        return records.filter(final_rank__isnull=False).order_by("final_rank", "pk")
    return records.order_by(*record_ordering(season.board))


def season_standings(
    *, season: LeaderboardSeason, realm: Realm | None, limit: int, offset: int = 0
) -> StandingsPage:
    """One page of the standings (two queries): live ranks for an active season, the frozen
    ranks for a closed one."""
    records = _ranked_records(season, realm)
    page = records.select_related("character", "realm")[offset : offset + limit]
    rows = [
        StandingRow(
            rank=record.final_rank
            if season.status == SeasonStatus.CLOSED and record.final_rank
            else offset + index + 1,
            character_name=record.character.name,
            realm_slug=record.realm.slug,
            realm_name=record.realm.name,
            score=record.score,
            subscore=record.subscore,
        )
        for index, record in enumerate(page)
    ]
    return StandingsPage(total=records.count(), rows=rows)


@dataclass(frozen=True)
class CharacterStanding:
    character: Character
    rank: int | None
    score: int | None
    subscore: int | None


def season_ranks_for_characters(
    *, season: LeaderboardSeason, characters: list[Character]
) -> list[CharacterStanding]:
    """Rank and score of each of ``characters`` in ``season`` (None where it has no record).
    On per-realm boards the rank is within the character's realm."""
    board = season.board
    records = {
        record.character_id: record
        for record in season.records.filter(character__in=[c.pk for c in characters])
    }
    standings = []
    for character in characters:
        record = records.get(character.pk)
        if record is None or character.deleted_at is not None:
            standings.append(CharacterStanding(character, None, None, None))
            continue
        standings.append(
            CharacterStanding(
                character, _rank_of(board, season, record), record.score, record.subscore
            )
        )
    return standings


def _rank_of(
    board: Leaderboard, season: LeaderboardSeason, record: LeaderboardRecord
) -> int | None:
    if season.status == SeasonStatus.CLOSED:
        return record.final_rank
    rivals = active_characters(season.records.all())
    if board.scope == LeaderboardScope.REALM:
        rivals = rivals.filter(realm_id=record.realm_id)
    return rivals.filter(_better_than(board, record)).count() + 1
