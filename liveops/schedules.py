"""The platform's periodic jobs as django-celery-beat rows (visible and editable in the admin).

``ops_schedules_ensure()`` creates the missing rows and leaves existing ones alone, so an
operator's edits in the admin (interval, enabled, arguments) survive ``make run`` and deploys;
``reset=True`` puts the defaults back. Jobs whose task is not registered (an app without that
task) are skipped and reported, never scheduled to fail.

Run by ``manage.py ops_schedules``, ``manage.py seed_demo`` (liveops/demo.py) and the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    every_seconds: int | None = None
    # Crontab fields (minute, hour) in UTC, for jobs that should run at a quiet hour.
    cron: tuple[str, str] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


JOBS: tuple[Job, ...] = (
    Job(
        "ops: sample metrics",
        "liveops.sample_metrics",
        every_seconds=15,
        description="Control-plane gauges + one point of the /ops/ dashboard series.",
    ),
    Job(
        "ops: detect stale shards",
        "liveops.detect_stale_shards",
        every_seconds=30,
        description="Marks shards without a heartbeat for SHARD_HEARTBEAT_TIMEOUT_SECONDS offline.",
    ),
    Job(
        "ops: world state flush safety net",
        "liveops.flush_world_state_safety_net",
        every_seconds=300,
        description="Asks every shard to save now, on top of its own periodic flush.",
    ),
    Job(
        "ops: backup database",
        "liveops.backup_database",
        cron=("17", "3"),
        description="Daily backup with checksum and manifest; keeps 7 daily + 4 weekly.",
    ),
    Job(
        "ops: verify latest backup",
        "liveops.verify_latest_backup",
        cron=("47", "3"),
        description="Restores the newest backup into a scratch database and compares tables.",
    ),
    Job(
        "economy: reconcile",
        "economy.tasks.reconcile_economy",
        cron=("5", "*"),
        description="Balances and item counts against the ledger; mismatches alert.",
    ),
    Job("economy: return expired mail", "economy.tasks.return_expired_mail", cron=("35", "*")),
    Job("economy: expire stale trades", "economy.tasks.expire_stale_trades", every_seconds=60),
    Job("worlds: routing housekeeping", "worlds.routing_housekeeping", every_seconds=30),
    Job("characters: purge expired deletions", "characters.purge_expired", cron=("30", "4")),
    Job(
        "liveops: leaderboard season rollover",
        "liveops.rollover_leaderboard_seasons",
        every_seconds=60,
        description="Closes ended leaderboard seasons, opens the next, grants top-N rewards.",
    ),
    Job(
        "liveops: refresh built-in leaderboards",
        "liveops.refresh_builtin_leaderboards",
        every_seconds=300,
        description="Snapshots character level and gold into the built-in boards.",
    ),
    Job(
        "chat: purge old chat history",
        "chat.purge_chat_history",
        cron=("50", "4"),
        description="Deletes chat lines older than CHAT_HISTORY_RETENTION_DAYS, in small batches.",
    ),
)


@dataclass
class EnsureReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    skipped_unregistered: list[str] = field(default_factory=list)


def registered_task_names() -> set[str]:
    from mmo_platform.celery import app

    app.loader.import_default_modules()
    return set(app.tasks.keys())


def _schedule_fields(job: Job) -> dict[str, Any]:
    if job.every_seconds is not None:
        # filter().first(): the admin lets operators create duplicate schedule rows.
        wanted = {"every": job.every_seconds, "period": IntervalSchedule.SECONDS}
        interval = IntervalSchedule.objects.filter(**wanted).order_by(
            "pk"
        ).first() or IntervalSchedule.objects.create(**wanted)
        return {"interval": interval, "crontab": None}
    assert job.cron is not None
    minute, hour = job.cron
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": "UTC",
    }
    crontab = CrontabSchedule.objects.filter(**fields).order_by(
        "pk"
    ).first() or CrontabSchedule.objects.create(**fields)
    return {"interval": None, "crontab": crontab}


def ops_schedules_ensure(*, reset: bool = False, jobs: tuple[Job, ...] = JOBS) -> EnsureReport:
    report = EnsureReport()
    registered = registered_task_names()
    with transaction.atomic():
        for job in jobs:
            if job.task not in registered:
                report.skipped_unregistered.append(job.task)
                continue
            existing = PeriodicTask.objects.filter(name=job.name).first()
            if existing is not None and not reset:
                report.kept.append(job.name)
                continue
            defaults = {
                "task": job.task,
                "kwargs": _json(job.kwargs),
                "args": "[]",
                "description": job.description,
                "enabled": True,
                **_schedule_fields(job),
            }
            PeriodicTask.objects.update_or_create(name=job.name, defaults=defaults)
            (report.reset if existing is not None else report.created).append(job.name)
    return report


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, sort_keys=True)
