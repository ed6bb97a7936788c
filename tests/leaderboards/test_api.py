"""REST API: boards, standings (current and past seasons, paginated), my ranks; read-only, no
account data; unknown board/season → 404, malformed parameters → 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from liveops.leaderboard_services import leaderboard_seasons_rollover, leaderboard_submit_score
from tests.leaderboards.conftest import NOW, MakeBoard
from tests.leaderboards.test_rollover import MONDAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def board_with_scores(make_board: MakeBoard, heroes):
    board = make_board("arena", description="Arena wins")
    for score, hero in zip((40, 30, 20, 10), heroes, strict=True):
        leaderboard_submit_score(board_key="arena", character=hero, score=score, now=NOW)
    return board


def test_boards_are_listed_with_their_current_season(board_with_scores, make_board) -> None:
    make_board("hidden", enabled=False)
    response = APIClient().get("/api/v1/leaderboards")
    assert response.status_code == 200
    assert [b["key"] for b in response.json()] == ["arena"]
    assert response.json()[0]["current_season"]["number"] == 1


def test_standings_are_paginated_and_show_no_account_data(board_with_scores, heroes) -> None:
    response = APIClient().get("/api/v1/leaderboards/arena/standings?limit=2&offset=1")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [(r["rank"], r["character"], r["score"]) for r in body["results"]] == [
        (2, "Brann", 30),
        (3, "Cora", 20),
    ]
    assert set(body["results"][0]) == {
        "rank",
        "character",
        "realm",
        "realm_name",
        "score",
        "subscore",
    }
    text = response.content.decode()
    assert heroes[0].account.email not in text and heroes[0].account.username not in text


def test_past_season_shows_final_standings(board_with_scores, heroes) -> None:
    leaderboard_seasons_rollover(now=MONDAY)
    leaderboard_submit_score(
        board_key="arena", character=heroes[3], score=99, now=MONDAY + timedelta(hours=1)
    )
    client = APIClient()
    past = client.get("/api/v1/leaderboards/arena/standings?season=1").json()
    current = client.get("/api/v1/leaderboards/arena/standings").json()
    assert past["season"]["status"] == "closed"
    assert [r["character"] for r in past["results"]] == ["Ayla", "Brann", "Cora", "Dax"]
    assert [r["character"] for r in current["results"]] == ["Dax"]
    seasons = client.get("/api/v1/leaderboards/arena/seasons").json()
    assert [s["number"] for s in seasons] == [2, 1]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/leaderboards/nope/standings",
        "/api/v1/leaderboards/hidden/standings",
        "/api/v1/leaderboards/arena/standings?season=7",
        "/api/v1/leaderboards/nope/seasons",
    ],
)
def test_unknown_boards_and_seasons_are_404(board_with_scores, make_board, url: str) -> None:
    make_board("hidden", enabled=False)
    response = APIClient().get(url)
    assert response.status_code == 404
    assert response.json()["code"] in {"unknown_leaderboard", "unknown_season"}


@pytest.mark.parametrize(
    "query",
    [
        "season=abc",
        "season=0",
        "limit=0",
        "limit=101",
        "offset=-1",
        "limit=ten",
        "realm=%20",
        "realm=arena%0B",
    ],
)
def test_malformed_query_parameters_are_400(board_with_scores, query: str) -> None:
    response = APIClient().get(f"/api/v1/leaderboards/arena/standings?{query}")
    assert response.status_code == 400


def test_per_realm_board_needs_a_known_realm(make_board: MakeBoard, heroes) -> None:
    make_board("level", scope="realm", source="character_level", operator="set")
    client = APIClient()
    assert client.get("/api/v1/leaderboards/level/standings").status_code == 400
    assert client.get("/api/v1/leaderboards/level/standings?realm=atlantis").status_code == 404
    assert client.get("/api/v1/leaderboards/level/standings?realm=eldoria").status_code == 200


def test_my_ranks_need_login_and_show_only_my_characters(board_with_scores, heroes) -> None:
    client = APIClient()
    assert client.get("/api/v1/leaderboards/arena/me").status_code in {401, 403}
    client.force_authenticate(heroes[2].account)
    body = client.get("/api/v1/leaderboards/arena/me").json()
    assert body["characters"] == [
        {"character": "Cora", "realm": "eldoria", "rank": 3, "score": 20, "subscore": 0}
    ]
    assert client.get("/api/v1/leaderboards/arena/me?season=x").status_code == 400


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_endpoint_lets_a_player_write_a_score(board_with_scores, heroes, method: str) -> None:
    client = APIClient()
    client.force_authenticate(heroes[0].account)
    for url in ("/api/v1/leaderboards/arena/standings", "/api/v1/leaderboards/arena/me"):
        response = getattr(client, method)(url, {"score": 10**9}, format="json")
        assert response.status_code == 405
    top = APIClient().get("/api/v1/leaderboards/arena/standings").json()["results"][0]
    assert top["score"] == 40


def test_openapi_documents_the_read_only_leaderboard_endpoints(tmp_path) -> None:
    import yaml
    from django.core.management import call_command

    schema_file = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))
    paths = yaml.safe_load(schema_file.read_text())["paths"]
    ours = {path: set(ops) for path, ops in paths.items() if "/leaderboards" in path}
    assert ours == {
        "/api/v1/leaderboards": {"get"},
        "/api/v1/leaderboards/{key}/seasons": {"get"},
        "/api/v1/leaderboards/{key}/standings": {"get"},
        "/api/v1/leaderboards/{key}/me": {"get"},
    }
    standings = paths["/api/v1/leaderboards/{key}/standings"]["get"]
    assert {"200", "400", "404"} <= set(standings["responses"])
