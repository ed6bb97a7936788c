"""Leaderboards REST API (mounted under /api/v1/leaderboards). Read-only: scores are submitted
by server-side services only, never by a client. Boards and standings are public; "my ranks"
needs a login. Rows carry character name, realm, score and rank — never account ids or
e-mails. Unknown or disabled board / season → 404; malformed query parameters → 400."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from characters.selectors import character_list_for_account
from liveops import leaderboard_selectors as selectors
from liveops.models import Leaderboard, LeaderboardSeason

# --- serializers ------------------------------------------------------------------------------


class ErrorOut(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. unknown_season.")
    message = serializers.CharField()
    details = serializers.DictField(required=False)


NOT_FOUND = OpenApiResponse(ErrorOut, description="No such (enabled) leaderboard, season or realm.")
BAD_REQUEST = OpenApiResponse(ErrorOut, description="Malformed query parameters.")


class SeasonOut(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True, help_text="None: never resets.")


class BoardOut(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    scope = serializers.CharField(help_text="global, or realm (ranked within each realm).")
    sort_order = serializers.CharField(help_text="desc: higher is better; asc: lower is better.")
    reset_schedule = serializers.CharField()
    current_season = SeasonOut(allow_null=True)


class StandingOut(serializers.Serializer):
    rank = serializers.IntegerField()
    character = serializers.CharField(source="character_name")
    realm = serializers.CharField(source="realm_slug")
    realm_name = serializers.CharField()
    score = serializers.IntegerField()
    subscore = serializers.IntegerField()


class StandingsOut(serializers.Serializer):
    board = serializers.CharField()
    season = SeasonOut()
    realm = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(help_text="Ranked characters in this season (and realm).")
    results = StandingOut(many=True)


class MyRankOut(serializers.Serializer):
    character = serializers.CharField()
    realm = serializers.CharField()
    rank = serializers.IntegerField(allow_null=True, help_text="None: no score this season.")
    score = serializers.IntegerField(allow_null=True)
    subscore = serializers.IntegerField(allow_null=True)


class MyRanksOut(serializers.Serializer):
    board = serializers.CharField()
    season = SeasonOut()
    characters = MyRankOut(many=True)


class StandingsQueryIn(serializers.Serializer):
    season = serializers.IntegerField(min_value=1, required=False)
    realm = serializers.SlugField(required=False, trim_whitespace=False)  # as its pattern says
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)


class SeasonQueryIn(serializers.Serializer):
    season = serializers.IntegerField(min_value=1, required=False)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _season_out(season: LeaderboardSeason | None) -> dict[str, Any] | None:
    if season is None:
        return None
    return {
        "number": season.number,
        "status": season.status,
        "starts_at": season.starts_at,
        "ends_at": season.ends_at,
    }


def board_out(board: Leaderboard) -> dict[str, Any]:
    return {
        "key": board.key,
        "title": board.title,
        "description": board.description,
        "scope": board.scope,
        "sort_order": board.sort_order,
        "reset_schedule": board.reset_schedule,
        "current_season": _season_out(selectors.season_current(board=board)),
    }


SEASON_PARAM = OpenApiParameter(
    "season", int, required=False, description="Season number; default: the current season."
)


# --- views ------------------------------------------------------------------------------------


class LeaderboardListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="leaderboards_list", responses=BoardOut(many=True))
    def get(self, request: Request) -> Response:
        boards = [board_out(board) for board in selectors.leaderboards_enabled()]
        return Response(BoardOut(boards, many=True).data)


class LeaderboardSeasonsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leaderboards_seasons_list",
        responses={200: SeasonOut(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, key: str) -> Response:
        board = selectors.leaderboard_get(key=key)
        seasons = [_season_out(season) for season in board.seasons.order_by("-number")]
        return Response(SeasonOut(seasons, many=True).data)


class LeaderboardStandingsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="leaderboards_standings",
        parameters=[
            SEASON_PARAM,
            OpenApiParameter(
                "realm",
                str,
                required=False,
                description="Realm slug; required on per-realm boards.",
            ),
            OpenApiParameter("limit", int, required=False, description="1 to 100, default 50."),
            OpenApiParameter("offset", int, required=False),
        ],
        responses={200: StandingsOut, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def get(self, request: Request, key: str) -> Response:
        query = _query(StandingsQueryIn, request)
        board = selectors.leaderboard_get(key=key)
        season = selectors.season_get(board=board, number=query.get("season"))
        realm = selectors.realm_for_standings(board=board, slug=query.get("realm"))
        page = selectors.season_standings(
            season=season, realm=realm, limit=query["limit"], offset=query["offset"]
        )
        body = {
            "board": board.key,
            "season": _season_out(season),
            "realm": realm.slug if realm else None,
            "count": page.total,
            "results": page.rows,
        }
        return Response(StandingsOut(body).data)


class LeaderboardMyRanksApi(APIView):
    @extend_schema(
        operation_id="leaderboards_my_ranks",
        parameters=[SEASON_PARAM],
        responses={200: MyRanksOut, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def get(self, request: Request, key: str) -> Response:
        query = _query(SeasonQueryIn, request)
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated (the default permission) ran first
        board = selectors.leaderboard_get(key=key)
        season = selectors.season_get(board=board, number=query.get("season"))
        characters = list(character_list_for_account(user=user, include_deleted=False))
        standings = selectors.season_ranks_for_characters(season=season, characters=characters)
        rows = [
            {
                "character": standing.character.name,
                "realm": standing.character.realm.slug,
                "rank": standing.rank,
                "score": standing.score,
                "subscore": standing.subscore,
            }
            for standing in standings
        ]
        body = {"board": board.key, "season": _season_out(season), "characters": rows}
        return Response(MyRanksOut(body).data)
