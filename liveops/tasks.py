"""Celery tasks of operations: thin adapters over liveops services.

Every task here is idempotent and acknowledged late (``acks_late``), so a worker killed mid-task
gets the message redelivered and running it again is harmless. Transient failures (database,
Redis, file system, pg_dump) retry with exponential backoff and jitter; domain errors do not.
Schedules are django-celery-beat rows (liveops/schedules.py), editable in the admin.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from liveops import backups, leaderboard_services, ops_services
from liveops.models import BackupRecord, BackupStatus
from liveops.sampling import metrics_sample_record
from mmo_platform.errors import DomainError

logger = logging.getLogger(__name__)

RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": (Exception,),
    "dont_autoretry_for": (DomainError,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(name="liveops.flush_world_state_safety_net", **RETRY_POLICY)
def flush_world_state_safety_net() -> dict[str, Any]:
    """Ask every shard to save its in-memory state now, on top of its own periodic flush.

    In-process shards (embedded mode) are called through their registered flush callbacks;
    shard processes get a request on the ``mmo:ops:flush`` Redis channel (production).
    """
    written = ops_services.world_flush_all()
    receivers = ops_services.world_flush_request_remote()
    return {"local": written, "remote_receivers": receivers}


@shared_task(name="liveops.backup_database", **RETRY_POLICY)
def backup_database(min_interval_seconds: int = 600) -> dict[str, Any]:
    """Take a backup unless one succeeded in the last ``min_interval_seconds`` (so a redelivered
    or duplicated message does not take two in a row)."""
    since = timezone.now() - timedelta(seconds=min_interval_seconds)
    recent = (
        BackupRecord.objects.filter(status=BackupStatus.OK, finished_at__gte=since)
        .order_by("-finished_at")
        .first()
    )
    if recent is not None and backups.backup_dir().joinpath(recent.file_name).exists():
        return {"skipped": True, "file": recent.file_name}
    record = backups.backup_create(trigger="scheduled")
    return {"skipped": False, "file": record.file_name, "size_bytes": record.size_bytes}


@shared_task(name="liveops.verify_latest_backup", **RETRY_POLICY)
def verify_latest_backup() -> dict[str, Any]:
    """Restore the newest backup into a scratch database and compare it with its manifest.
    A failed verification is a result (metric + ops alert), not a task failure."""
    verification = backups.backup_verify_latest()
    return {
        "file": verification.backup_file,
        "ok": verification.ok,
        "tables_checked": verification.tables_checked,
        "error": verification.error,
    }


@shared_task(name="liveops.sample_metrics", **RETRY_POLICY)
def sample_metrics() -> dict[str, Any]:
    """Refresh the control-plane gauges (queue depth, backup age, shard heartbeats) and append
    one point to the ops dashboard's time series."""
    sample = metrics_sample_record()
    return {"taken_at": sample.taken_at.isoformat(), **sample.values}


@shared_task(name="liveops.detect_stale_shards", **RETRY_POLICY)
def detect_stale_shards() -> dict[str, Any]:
    """Mark shards whose heartbeat is older than SHARD_HEARTBEAT_TIMEOUT_SECONDS offline."""
    names = ops_services.shards_mark_stale(
        timeout=timedelta(seconds=settings.SHARD_HEARTBEAT_TIMEOUT_SECONDS)
    )
    return {"marked_offline": names}


@shared_task(name="liveops.rollover_leaderboard_seasons", **RETRY_POLICY)
def rollover_leaderboard_seasons() -> dict[str, Any]:
    """Close every leaderboard season that has ended (ranks frozen), open the next aligned
    season and grant pending top-N rewards. Idempotent: a rerun finds nothing left to do."""
    report = leaderboard_services.leaderboard_seasons_rollover()
    return {
        "rolled_over": [
            {"board": o.board_key, "closed": o.closed_season, "opened": o.opened_season}
            for o in report.outcomes
        ],
        "rewards_granted": report.rewards_granted,
        "rewards_failed": report.rewards_failed,
    }


@shared_task(name="liveops.refresh_builtin_leaderboards", **RETRY_POLICY)
def refresh_builtin_leaderboards() -> dict[str, int]:
    """Snapshot character levels and wealth into the built-in boards' current seasons."""
    return leaderboard_services.leaderboard_builtin_refresh()
