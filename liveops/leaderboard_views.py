"""Portal page /leaderboards/: board picker, the top 100 of the current (or a past) season, the
signed-in player's characters' ranks, and the list of past seasons. Public; read-only.

Query parameters: ``board`` (key), ``season`` (number), ``realm`` (slug, per-realm boards).
Unknown board / season / realm → 404; a malformed season number → 400.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import User
from characters.models import Character
from characters.selectors import character_list_for_account
from liveops import leaderboard_selectors as selectors
from liveops.models import Leaderboard, LeaderboardScope
from mmo_platform.errors import NotFound
from worlds.models import Realm

TOP_N = 100
TEMPLATE = "liveops/leaderboards.html"


@require_GET
def leaderboards_page(request: HttpRequest) -> HttpResponse:
    boards = list(selectors.leaderboards_enabled())
    if not boards:
        return render(request, TEMPLATE, {"boards": []})
    season_number = _season_number(request.GET.get("season"))
    if season_number == -1:
        error = "The season must be a positive whole number."
        return render(request, TEMPLATE, {"boards": boards, "error": error}, status=400)
    board = _board(boards, request.GET.get("board"))
    characters = _own_characters(request)
    try:
        season = selectors.season_get(board=board, number=season_number)
        realm = _realm(board, request.GET.get("realm"), characters)
    except NotFound as error:
        raise Http404(error.message) from error
    context: dict[str, Any] = {
        "boards": boards,
        "board": board,
        "season": season,
        "realm": realm,
        "realms": Realm.objects.filter(is_open=True).order_by("name")
        if board.scope == LeaderboardScope.REALM
        else [],
        "standings": selectors.season_standings(season=season, realm=realm, limit=TOP_N),
        "mine": selectors.season_ranks_for_characters(season=season, characters=characters),
        "past_seasons": selectors.seasons_closed(board=board)[:20],
        "signed_in": bool(request.user.is_authenticated),
    }
    return render(request, TEMPLATE, context)


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def _season_number(raw: str | None) -> int | None:
    """None for the current season, -1 for a malformed value."""
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**9 else -1


def _board(boards: list[Leaderboard], key: str | None) -> Leaderboard:
    if not key:
        return boards[0]
    for board in boards:
        if board.key == key:
            return board
    raise Http404("No such leaderboard.")


def _own_characters(request: HttpRequest) -> list[Character]:
    if not isinstance(request.user, User):
        return []
    return list(character_list_for_account(user=request.user, include_deleted=False))


def _realm(board: Leaderboard, slug: str | None, characters: list[Character]) -> Realm | None:
    """Per-realm boards: the asked realm, else the player's first character's, else the first
    open realm."""
    if board.scope != LeaderboardScope.REALM:
        return None
    if not slug:
        first_open = Realm.objects.filter(is_open=True).order_by("name").first()
        default = characters[0].realm if characters else first_open
        slug = default.slug if default else None
    if slug and not _SLUG.fullmatch(slug):  # e.g. a NUL byte: PostgreSQL would refuse the query
        raise Http404("No such realm.")
    return selectors.realm_for_standings(board=board, slug=slug) if slug else None
