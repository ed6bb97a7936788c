"""Reads behind the /ops/ dashboard: time series from MetricSample rows and status tiles."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from liveops import backups
from liveops.models import BackupRecord, BackupStatus, MetricSample, OpsAlert, RestoreVerification
from liveops.sampling import SERIES

MAX_SERIES_MINUTES = 24 * 60


def ops_series(*, minutes: int, now: datetime | None = None) -> dict[str, Any]:
    """Column-oriented series for uPlot: ``{"t": [unix seconds], "<figure>": [value|None]}``."""
    now = now or timezone.now()
    minutes = max(1, min(minutes, MAX_SERIES_MINUTES))
    rows = (
        MetricSample.objects.filter(taken_at__gte=now - timedelta(minutes=minutes))
        .order_by("taken_at")
        .values_list("taken_at", "values")
    )
    columns: dict[str, list[Any]] = {"t": []}
    columns.update({name: [] for name in SERIES})
    for taken_at, values in rows:
        columns["t"].append(int(taken_at.timestamp()))
        for name in SERIES:
            columns[name].append(values.get(name))
    return columns


def ops_status(*, now: datetime | None = None) -> dict[str, Any]:
    """Status tiles: shards, backups, restore verification, reconciliation, open alerts."""
    now = now or timezone.now()
    return {
        "generated_at": now.isoformat(),
        "tick_budget_ms": round(1000 / settings.WORLD_TICK_HZ, 1),
        "shards": _shards(now),
        "backup": _backup(now),
        "restore_verification": _verification(),
        "reconciliation": _reconciliation(),
        "alerts": [
            {
                "key": alert.key,
                "severity": alert.severity,
                "message": alert.message,
                "occurrences": alert.occurrences,
                "raised_at": alert.raised_at.isoformat(),
                "last_seen_at": alert.last_seen_at.isoformat(),
            }
            for alert in OpsAlert.objects.filter(resolved_at__isnull=True)[:20]
        ],
        "latest_sample": _latest_sample(),
    }


def _shards(now: datetime) -> list[dict[str, Any]]:
    from worlds.models import Shard

    result = []
    for shard in Shard.objects.select_related("realm").order_by("realm__name", "name"):
        age = None
        if shard.last_heartbeat is not None:
            age = round((now - shard.last_heartbeat).total_seconds(), 1)
        result.append(
            {
                "name": shard.name,
                "realm": shard.realm.name,
                "status": shard.status,
                "population": shard.population,
                "capacity": shard.capacity,
                "heartbeat_age_seconds": age,
                "healthy": shard.is_healthy(now=now),
                "version": shard.version,
            }
        )
    return result


def _backup(now: datetime) -> dict[str, Any]:
    latest = backups.backup_latest()
    last_failure = (
        BackupRecord.objects.filter(status=BackupStatus.FAILED).order_by("-started_at").first()
    )
    info: dict[str, Any] = {
        "latest": None,
        "last_failure": None,
        "count": len(backups.backup_list()),
    }
    if latest is not None:
        info["latest"] = {
            "file": latest.path.name,
            "created_at": latest.created_at.isoformat(),
            "age_hours": round((now - latest.created_at).total_seconds() / 3600, 2),
            "size_bytes": latest.manifest.get("size_bytes"),
            "tables": len(latest.manifest.get("tables", {})),
        }
    if last_failure is not None:
        info["last_failure"] = {
            "at": last_failure.started_at.isoformat(),
            "error": last_failure.error[:300],
        }
    return info


def _verification() -> dict[str, Any] | None:
    verification = RestoreVerification.objects.filter(finished_at__isnull=False).first()
    if verification is None or verification.finished_at is None:
        return None
    return {
        "file": verification.backup_file,
        "ok": verification.ok,
        "finished_at": verification.finished_at.isoformat(),
        "tables_checked": verification.tables_checked,
        "error": verification.error[:300],
    }


def _reconciliation() -> dict[str, Any] | None:
    try:
        from economy.models import ReconciliationRun
    except ImportError:
        return None
    run = ReconciliationRun.objects.filter(finished_at__isnull=False).order_by("-pk").first()
    if run is None or run.finished_at is None:
        return None
    return {
        "ok": run.ok,
        "mismatches": run.mismatch_count,
        "finished_at": run.finished_at.isoformat(),
    }


def _latest_sample() -> dict[str, Any] | None:
    sample = MetricSample.objects.first()
    if sample is None:
        return None
    return {"taken_at": sample.taken_at.isoformat(), **sample.values}
