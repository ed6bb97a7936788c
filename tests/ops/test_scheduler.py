"""Schedules as django-celery-beat rows, and the embedded in-process scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from liveops import scheduler
from liveops.models import MetricSample
from liveops.schedules import JOBS, Job, ops_schedules_ensure


@pytest.mark.django_db
def test_schedules_are_created_once_and_admin_edits_survive() -> None:
    # given
    first = ops_schedules_ensure()
    assert "ops: backup database" in first.created
    backup = PeriodicTask.objects.get(name="ops: backup database")
    assert backup.task == "liveops.backup_database"
    assert backup.crontab is not None and (backup.crontab.hour, backup.crontab.minute) == (
        "3",
        "17",
    )
    sampling = PeriodicTask.objects.get(name="ops: sample metrics")
    assert sampling.interval is not None and sampling.interval.every == 15
    # when an operator edits a job in the admin, then the command runs again
    sampling.interval = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    sampling.enabled = False
    sampling.save()
    again = ops_schedules_ensure()
    # then
    assert again.created == []
    sampling.refresh_from_db()
    assert sampling.interval is not None and sampling.interval.every == 60
    assert sampling.enabled is False
    # and --reset puts the defaults back
    reset = ops_schedules_ensure(reset=True)
    sampling.refresh_from_db()
    assert "ops: sample metrics" in reset.reset
    assert sampling.interval is not None and sampling.interval.every == 15 and sampling.enabled


@pytest.mark.django_db
def test_every_scheduled_job_points_at_a_registered_task() -> None:
    report = ops_schedules_ensure()
    assert report.skipped_unregistered == []
    assert PeriodicTask.objects.filter(name__in=[j.name for j in JOBS]).count() == len(JOBS)


@pytest.mark.django_db
def test_unregistered_tasks_are_skipped_not_scheduled() -> None:
    report = ops_schedules_ensure(jobs=(Job("ghost", "chat.tasks.no_such_task", every_seconds=5),))
    assert report.skipped_unregistered == ["chat.tasks.no_such_task"]
    assert not PeriodicTask.objects.filter(name="ghost").exists()


@pytest.mark.django_db
def test_ops_schedules_command_and_seed(capsys: pytest.CaptureFixture[str]) -> None:
    from liveops.demo import seed

    call_command("ops_schedules")
    assert "created  ops: sample metrics" in capsys.readouterr().out
    assert seed().startswith("schedules: 0 created")


# --- embedded scheduler -----------------------------------------------------------------------
def _interval_task(name: str, task: str, every: int, **fields: Any) -> PeriodicTask:
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=every, period=IntervalSchedule.SECONDS
    )
    return PeriodicTask.objects.create(name=name, task=task, interval=interval, **fields)


@pytest.mark.django_db
def test_due_interval_job_runs_once_per_interval() -> None:
    job = _interval_task("sample", "liveops.sample_metrics", every=15)
    now = timezone.now()
    runs = scheduler.run_due_tasks(now=now)
    assert [(r.name, r.ok) for r in runs] == [("sample", True)]
    assert MetricSample.objects.count() == 1
    assert scheduler.run_due_tasks(now=now + timedelta(seconds=5)) == []
    assert len(scheduler.run_due_tasks(now=now + timedelta(seconds=16))) == 1
    job.refresh_from_db()
    assert job.total_run_count == 2
    assert MetricSample.objects.count() == 2


@pytest.mark.django_db
def test_disabled_future_and_expired_jobs_do_not_run() -> None:
    now = timezone.now()
    _interval_task("off", "liveops.sample_metrics", every=15, enabled=False)
    _interval_task("later", "liveops.sample_metrics", every=15, start_time=now + timedelta(hours=1))
    _interval_task("gone", "liveops.sample_metrics", every=15, expires=now - timedelta(hours=1))
    assert scheduler.run_due_tasks(now=now) == []


@pytest.mark.django_db
def test_crontab_job_catches_up_a_missed_slot() -> None:
    crontab = CrontabSchedule.objects.create(minute="17", hour="3", timezone="UTC")
    job = PeriodicTask.objects.create(
        name="nightly",
        task="liveops.detect_stale_shards",
        crontab=crontab,
        last_run_at=datetime(2026, 3, 1, 3, 17, tzinfo=UTC),
    )
    # Not due before the next 03:17 ...
    assert scheduler.run_due_tasks(now=datetime(2026, 3, 1, 20, 0, tzinfo=UTC)) == []
    # ... due after it, even if the process was down at 03:17.
    runs = scheduler.run_due_tasks(now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert [r.name for r in runs] == ["nightly"]
    job.refresh_from_db()
    assert job.last_run_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_does_not_block_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from liveops import ops_services

    def broken(**kwargs: Any) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(ops_services, "shards_mark_stale", broken)
    _interval_task("a-broken", "liveops.detect_stale_shards", every=30)
    _interval_task("b-healthy", "liveops.sample_metrics", every=15)
    _interval_task("c-unknown", "nope.not_registered", every=15)
    now = timezone.now()
    runs = {r.name: r for r in scheduler.run_due_tasks(now=now)}
    assert runs["a-broken"].ok is False and "boom" in runs["a-broken"].error
    assert runs["b-healthy"].ok is True
    assert runs["c-unknown"].ok is False
    # Recorded as run: not retried every second.
    assert scheduler.run_due_tasks(now=now + timedelta(seconds=1)) == []


@pytest.mark.django_db
def test_one_off_job_is_disabled_after_running() -> None:
    job = _interval_task("once", "liveops.sample_metrics", every=15, one_off=True)
    scheduler.run_due_tasks()
    job.refresh_from_db()
    assert job.enabled is False


def test_scheduler_does_not_start_when_disabled(settings: Any) -> None:
    settings.OPS_EMBEDDED_SCHEDULER = False
    assert scheduler.start_embedded_scheduler() is None


@pytest.mark.django_db(transaction=True)
def test_scheduler_thread_starts_once_and_stops() -> None:
    thread = scheduler.start_embedded_scheduler(force=True)
    try:
        assert thread is not None and thread.is_alive()
        assert scheduler.start_embedded_scheduler(force=True) is thread
    finally:
        scheduler.stop_embedded_scheduler()
    assert thread is not None and not thread.is_alive()
