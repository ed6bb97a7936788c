"""`make run` on a fresh clone: seed_demo creates three boards with an active season, filled."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client

from liveops.models import Leaderboard, LeaderboardSeason

pytestmark = pytest.mark.django_db


def test_seed_demo_shows_filled_leaderboards_and_is_idempotent() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())

    assert set(Leaderboard.objects.values_list("key", flat=True)) == {
        "level",
        "wealth",
        "wolf-hunt",
    }
    assert LeaderboardSeason.objects.filter(status="active").count() == 3
    assert LeaderboardSeason.objects.count() == 3
    client = Client()
    wolves = client.get("/leaderboards/?board=wolf-hunt").content.decode()
    assert re.search(r"#1</td><td>Alyndra</td><td>Eldoria</td><td>14", wolves)
    wealth = client.get("/leaderboards/?board=wealth").content.decode()
    assert re.search(r"#1</td><td>Alyndra</td><td>Eldoria</td><td>1,000", wealth)
    level = client.get("/leaderboards/?board=level").content.decode()
    assert "Borin" in level
