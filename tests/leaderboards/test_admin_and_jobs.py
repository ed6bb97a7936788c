"""GM console (boards editable and validated, seasons read-only, audited early close) and the
periodic jobs (schedule rows, tasks registered and runnable)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from liveops import tasks
from liveops.models import Leaderboard, LeaderboardSeason
from liveops.schedules import JOBS, ops_schedules_ensure
from tests.factories import UserFactory
from tests.leaderboards.conftest import MakeBoard

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/liveops/leaderboardseason/"


@pytest.fixture
def gm_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="gm", is_staff=True, is_superuser=True))
    return client


def test_close_now_asks_for_a_reason_then_closes_and_audits(
    make_board: MakeBoard, gm_client: Client
) -> None:
    make_board("weekly", now=timezone.now())
    season = LeaderboardSeason.objects.get()
    action = {"action": "close_seasons_now", "_selected_action": [season.pk]}

    confirm = gm_client.post(CHANGELIST, action)
    without_reason = gm_client.post(CHANGELIST, {**action, "apply": "1", "reason": ""})
    season.refresh_from_db()
    assert confirm.status_code == 200 and b"Close 1 season now" in confirm.content
    assert without_reason.status_code == 200 and season.status == "active"

    done = gm_client.post(CHANGELIST, {**action, "apply": "1", "reason": "duplicated rewards"})

    assert done.status_code == 302
    season.refresh_from_db()
    assert (season.status, season.closed_by_label, season.close_reason) == (
        "closed",
        "gm",
        "duplicated rewards",
    )
    entry = LogEntry.objects.get(object_id=str(season.pk))
    assert entry.user.username == "gm" and "duplicated rewards" in entry.get_change_message()
    assert LeaderboardSeason.objects.filter(status="active").count() == 1


def test_staff_without_permission_cannot_close(make_board: MakeBoard) -> None:
    make_board("weekly", now=timezone.now())
    season = LeaderboardSeason.objects.get()
    client = Client()
    viewer = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_leaderboardseason"))
    client.force_login(viewer)
    client.post(
        CHANGELIST,
        {
            "action": "close_seasons_now",
            "_selected_action": [season.pk],
            "apply": "1",
            "reason": "x",
        },
    )
    season.refresh_from_db()
    assert season.status == "active"


def test_seasons_and_records_are_read_only(make_board: MakeBoard, gm_client: Client) -> None:
    make_board("weekly")
    season = LeaderboardSeason.objects.get()
    page = gm_client.get(f"{CHANGELIST}{season.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert gm_client.get("/admin/liveops/leaderboardrecord/add/").status_code == 403
    assert gm_client.get("/admin/liveops/leaderboardrecord/?q=Ayla").status_code == 200
    # Boards are disabled, never deleted: deleting would erase their seasons' final standings.
    board = Leaderboard.objects.get()
    assert gm_client.get(f"/admin/liveops/leaderboard/{board.pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"rewards": '{"ranks": [1, 1]}'}, "Rewards must be a list"),
        (
            {"rewards": '[{"ranks": [1, 2], "currency": "gold", "amount": -5}]'},
            "whole amount from 1",
        ),
        (
            {"rewards": '[{"ranks": [1, 2], "currency": "gold", "amount": 10000000000000}]'},
            "whole amount from 1",
        ),
        ({"rewards": '[{"ranks": [1, 1], "items": [["no_such_item", 1]]}]'}, "known item"),
        ({"source": "character_level", "operator": "best"}, "operator must be"),
    ],
)
def test_board_admin_refuses_definitions_the_services_cannot_run(
    gm_client: Client, changes: dict[str, str], error: str
) -> None:
    form = {
        "key": "arena",
        "title": "Arena",
        "description": "",
        "scope": "global",
        "source": "submitted",
        "operator": "best",
        "sort_order": "desc",
        "reset_schedule": "weekly",
        "rewards": "[]",
        "enabled": "on",
        **changes,
    }
    response = gm_client.post("/admin/liveops/leaderboard/add/", form)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Leaderboard.objects.exists()


def test_valid_board_can_be_created_in_the_admin(gm_client: Client) -> None:
    form = {
        "key": "arena",
        "title": "Arena",
        "scope": "global",
        "source": "submitted",
        "operator": "best",
        "sort_order": "desc",
        "reset_schedule": "weekly",
        "rewards": '[{"ranks": [1, 3], "currency": "gold", "amount": 100}]',
        "enabled": "on",
    }
    response = gm_client.post("/admin/liveops/leaderboard/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Leaderboard.objects.get().rewards[0]["amount"] == 100


def test_schedule_rows_exist_for_both_jobs(db: None) -> None:
    wanted = {"liveops.rollover_leaderboard_seasons", "liveops.refresh_builtin_leaderboards"}
    assert wanted <= {job.task for job in JOBS}
    report = ops_schedules_ensure()
    assert not wanted & set(report.skipped_unregistered)
    rows = PeriodicTask.objects.filter(task__in=wanted, enabled=True)
    assert {row.task: row.interval.every for row in rows} == {
        "liveops.rollover_leaderboard_seasons": 60,
        "liveops.refresh_builtin_leaderboards": 300,
    }


def test_tasks_run_the_services_and_are_acked_late(make_board: MakeBoard, heroes) -> None:
    make_board("level", source="character_level", operator="set", now=timezone.now())
    assert tasks.refresh_builtin_leaderboards.acks_late
    assert tasks.rollover_leaderboard_seasons.max_retries == 5
    assert tasks.refresh_builtin_leaderboards.apply().get() == {"level": 4}
    result = tasks.rollover_leaderboard_seasons.apply().get()
    assert result["rolled_over"] == [] and result["rewards_granted"] == 0
    # A board whose season has ended is rolled over by the task.
    LeaderboardSeason.objects.update(
        starts_at=timezone.now() - timedelta(days=40), ends_at=timezone.now() - timedelta(days=1)
    )
    result = tasks.rollover_leaderboard_seasons.apply().get()
    assert result["rolled_over"] == [{"board": "level", "closed": 1, "opened": 2}]
