"""Portal page /leaderboards/: boards, current top 100, my characters' ranks, past seasons."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from liveops.leaderboard_services import leaderboard_seasons_rollover, leaderboard_submit_score
from tests.leaderboards.conftest import NOW, MakeBoard
from tests.leaderboards.test_rollover import MONDAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def boards(make_board: MakeBoard, heroes):
    make_board("arena", description="Arena wins")
    make_board("level", scope="realm", source="character_level", operator="set")
    for score, hero in zip((40, 30), heroes, strict=False):
        leaderboard_submit_score(board_key="arena", character=hero, score=score, now=NOW)


def test_page_shows_the_boards_and_the_current_standings(boards) -> None:
    response = Client().get("/leaderboards/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="?board=arena"' in html and 'href="?board=level"' in html
    assert re.search(r"#1</td><td>Ayla</td>", html)
    assert re.search(r"#2</td><td>Brann</td>", html)
    assert 'href="/leaderboards/" class="is-active"' in html
    assert re.findall(r'(?:src|href)="(?:https?:)?//[^"]+"', html) == []
    assert "Your characters" not in html


def test_signed_in_player_sees_their_characters_ranks(boards, heroes) -> None:
    client = Client()
    client.force_login(heroes[1].account)
    html = client.get("/leaderboards/?board=arena").content.decode()
    assert "Your characters" in html
    assert re.search(r"<strong>Brann</strong> \(Eldoria\):\s+rank <strong>#2</strong>", html)


def test_past_seasons_show_final_standings(boards, heroes) -> None:
    leaderboard_seasons_rollover(now=MONDAY)
    client = Client()
    current = client.get("/leaderboards/?board=arena").content.decode()
    assert "No scores yet this season." in current
    assert 'href="?board=arena&amp;season=1"' in current
    past = client.get("/leaderboards/?board=arena&season=1").content.decode()
    assert "final standings" in past and re.search(r"#1</td><td>Ayla</td>", past)


def test_per_realm_board_defaults_to_an_open_realm(boards) -> None:
    html = Client().get("/leaderboards/?board=level").content.decode()
    assert 'value="eldoria" selected' in html


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("board=nope", 404),
        ("board=arena&season=9", 404),
        ("board=level&realm=atlantis", 404),
        ("board=level&realm=%00%3A", 404),  # a NUL byte would be a database error on PostgreSQL
        ("board=arena&season=abc", 400),
        ("board=arena&season=-1", 400),
    ],
)
def test_bad_or_unknown_parameters(boards, query: str, status: int) -> None:
    assert Client().get(f"/leaderboards/?{query}").status_code == status


def test_page_without_boards_says_so(db: None) -> None:
    html = Client().get("/leaderboards/").content.decode()
    assert "No leaderboards yet" in html
