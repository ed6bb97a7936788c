"""/ops/ dashboard and its JSON: staff only, drawn from the platform's own metric samples."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from liveops.models import MetricSample, OpsAlert
from liveops.sampling import SERIES
from tests.factories import UserFactory
from tests.ops.factories import realm_create, shard_create

EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get("/ops/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_players_cannot_open_the_dashboard_or_its_data(client: Client) -> None:
    client.force_login(UserFactory())
    assert client.get("/ops/").status_code == 403
    assert client.get("/ops/api/series").status_code == 403


@pytest.mark.django_db
def test_anonymous_cannot_read_the_series(client: Client) -> None:
    assert client.get("/ops/api/series").status_code in (401, 403)


@pytest.mark.django_db
def test_staff_sees_charts_tiles_shards_and_alerts(staff_client: Client) -> None:
    # given
    shard_create("dash-1", realm=realm_create(), population=33)
    OpsAlert.objects.create(key="backup", source="backup", message="Backup failed: disk full")
    # when
    response = staff_client.get("/ops/")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "dash-1" in body and "33 / 500" in body
    assert "Backup failed: disk full" in body
    assert 'data-chart="tick"' in body and 'data-chart="players"' in body
    assert "/static/vendor/uplot/uPlot.iife.min.js" in body  # vendored, no CDN
    assert not EXTERNAL.findall(body)


@pytest.mark.django_db
def test_series_returns_columns_in_time_order(staff_client: Client) -> None:
    now = timezone.now()
    for minutes_ago, players in ((90, 1), (30, 5), (10, 8)):
        sample = MetricSample.objects.create(
            values={"players_online": players, "tick_p99_ms": 12.5}, counters={}
        )
        MetricSample.objects.filter(pk=sample.pk).update(
            taken_at=now - timedelta(minutes=minutes_ago)
        )
    response = staff_client.get("/ops/api/series", {"minutes": 60})
    assert response.status_code == 200
    data = response.json()
    series = data["series"]
    assert set(SERIES) <= set(series)
    assert series["players_online"] == [5, 8]  # the 90-minute-old sample is outside the window
    assert series["t"] == sorted(series["t"])
    assert series["rtt_p99_ms"] == [None, None]
    assert data["status"]["latest_sample"]["players_online"] == 8
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
@pytest.mark.parametrize("minutes", ["0", "-5", "abc", "100000"])
def test_series_rejects_bad_windows(staff_client: Client, minutes: str) -> None:
    response = staff_client.get("/ops/api/series", {"minutes": minutes})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
