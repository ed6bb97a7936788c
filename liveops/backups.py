"""Backups with checksums, manifests, retention, restores and restore verification.

A backup is three files in ``settings.BACKUP_DIR``::

    mmo-<vendor>-<YYYYmmddTHHMMSSffffffZ>.<ext>                the dump (pg custom format / SQLite)
    mmo-<...>.<ext>.sha256          "<hex>  <file name>", checkable with ``sha256sum -c``
    mmo-<...>.<ext>.manifest.json   vendor, time, size, sha256 and each key table's fingerprint

The manifest's fingerprints are read in the same snapshot as the dump (backup_engines.py), so a
restore can prove it brought back exactly what was there. Entry points: ``manage.py backup``,
``manage.py restore``, ``manage.py verify_restore`` and the Celery tasks in liveops/tasks.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.utils import timezone

from liveops.backup_engines import (
    DatabaseTarget,
    TableFingerprint,
    engine_for,
    scratch_database,
)
from liveops.models import BackupRecord, BackupStatus, RestoreVerification
from liveops.ops_services import ops_alert_raise, ops_alert_resolve
from mmo_platform import metrics
from mmo_platform.errors import Conflict, ValidationFailed

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
MANIFEST_FORMAT = 1
FILE_PREFIX = "mmo-"
HASH_CHUNK = 1024 * 1024


class BackupCorrupted(ValidationFailed):
    code = "backup_corrupted"


class RestoreRefused(Conflict):
    code = "restore_refused"


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True)
class BackupFile:
    path: Path
    created_at: datetime
    manifest: dict[str, Any]

    @property
    def checksum_path(self) -> Path:
        return checksum_path_for(self.path)

    @property
    def manifest_path(self) -> Path:
        return manifest_path_for(self.path)


@dataclass
class RestoreReport:
    backup: Path
    target: str
    tables_checked: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


# --- Paths and discovery ------------------------------------------------------------------------
def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def checksum_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def manifest_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def backup_key_tables() -> list[str]:
    """Tables of the concrete, managed models of ``settings.BACKUP_VERIFY_APPS`` (discovered from
    the installed models, so new tables are covered without editing a list)."""
    tables: list[str] = []
    for app_label in settings.BACKUP_VERIFY_APPS:
        try:
            config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in config.get_models(include_auto_created=True):
            meta = model._meta
            if meta.managed and not meta.proxy and meta.db_table not in tables:
                tables.append(meta.db_table)
    return sorted(tables)


def backup_list(directory: Path | None = None) -> list[BackupFile]:
    """Backups with a readable manifest, newest first. A dump without a manifest is ignored
    (an interrupted backup); a manifest without its dump too."""
    found: list[BackupFile] = []
    for manifest_path in (directory or backup_dir()).glob(f"{FILE_PREFIX}*.manifest.json"):
        dump = manifest_path.with_name(manifest_path.name.removesuffix(".manifest.json"))
        try:
            manifest = json.loads(manifest_path.read_text())
            created_at = datetime.fromisoformat(manifest["created_at"])
        except (OSError, ValueError, KeyError):
            logger.warning("unreadable backup manifest %s", manifest_path)
            continue
        if dump.exists():
            found.append(BackupFile(path=dump, created_at=created_at, manifest=manifest))
    return sorted(found, key=lambda b: b.created_at, reverse=True)


def backup_latest(directory: Path | None = None) -> BackupFile | None:
    backups = backup_list(directory)
    return backups[0] if backups else None


# --- Checksums ----------------------------------------------------------------------------------
def file_sha256(path: Path, progress: Progress = _quiet) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    next_report = 0.25
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if total and done / total >= next_report and total > 16 * HASH_CHUNK:
                progress(f"  checksum {done * 100 // total}%")
                next_report += 0.25
    return digest.hexdigest()


def backup_checksum_verify(path: Path, progress: Progress = _quiet) -> str:
    """Raise BackupCorrupted unless ``path`` matches its ``.sha256`` sidecar; return the digest."""
    sidecar = checksum_path_for(path)
    if not path.exists():
        raise BackupCorrupted(f"Backup file {path} does not exist.", path=str(path))
    try:
        expected = sidecar.read_text().split()[0].lower()
    except (OSError, IndexError) as exc:
        raise BackupCorrupted(
            f"No readable checksum file {sidecar.name}: refusing an unverifiable backup.",
            path=str(path),
        ) from exc
    actual = file_sha256(path, progress)
    if actual != expected:
        raise BackupCorrupted(
            f"Checksum mismatch for {path.name}: expected {expected}, file has {actual}.",
            path=str(path),
            expected=expected,
            actual=actual,
        )
    return actual


def backup_manifest_read(path: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(manifest_path_for(path).read_text())
    except (OSError, ValueError) as exc:
        raise BackupCorrupted(f"No readable manifest for {path.name}.", path=str(path)) from exc
    if manifest.get("format") != MANIFEST_FORMAT or "tables" not in manifest:
        raise BackupCorrupted(f"Manifest of {path.name} has an unknown format.", path=str(path))
    return manifest


# --- Backup -------------------------------------------------------------------------------------
def backup_create(
    *, trigger: str = "manual", alias: str = "default", progress: Progress = _quiet
) -> BackupRecord:
    """Dump database ``alias`` into BACKUP_DIR with checksum and manifest, then apply retention.

    Must not run inside a transaction: the dump reads committed data from its own connection.
    Raises on failure after recording the failed attempt (and counting it in the metrics).
    """
    if connections[alias].in_atomic_block:
        raise RuntimeError("backup_create must not run inside a transaction")
    source = DatabaseTarget.from_alias(alias)
    engine = engine_for(source.vendor)
    record = BackupRecord.objects.create(trigger=trigger, vendor=source.vendor)
    try:
        path = _backup_write(source, engine, progress)
    except Exception as exc:
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        metrics.BACKUP_FAILURES.inc()
        ops_alert_raise(
            key="backup",
            source="backup",
            message=f"Backup of {source.label} failed: {exc}",
            details={"record": record.pk},
        )
        raise
    manifest = backup_manifest_read(path)
    record.status = BackupStatus.OK
    record.finished_at = timezone.now()
    record.file_name = path.name
    record.size_bytes = manifest["size_bytes"]
    record.sha256 = manifest["sha256"]
    record.table_count = len(manifest["tables"])
    record.save()
    metrics.BACKUP_LAST_SUCCESS_TIMESTAMP.set(record.finished_at.timestamp())
    metrics.BACKUP_AGE_SECONDS.set(0)
    ops_alert_resolve(key="backup")
    removed = backup_apply_retention()
    if removed:
        progress(f"retention: removed {len(removed)} old backup(s): {', '.join(removed)}")
    return record


def _backup_write(source: DatabaseTarget, engine: Any, progress: Progress) -> Path:
    directory = backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    created_at = timezone.now()
    name = f"{FILE_PREFIX}{source.vendor}-{created_at:%Y%m%dT%H%M%S%fZ}.{engine.extension}"
    final = directory / name
    partial = directory / f".{name}.partial"
    tables = backup_key_tables()
    progress(f"[1/3] dumping {source.label} ({len(tables)} key tables fingerprinted)")
    started = time.monotonic()
    try:
        fingerprints = engine.dump(source, partial, tables, progress)
        progress("[2/3] checksum")
        digest = file_sha256(partial, progress)
        size = partial.stat().st_size
        # Sidecars first, dump last: a dump is only listed once its manifest exists, and the
        # rename is atomic, so a crash never leaves a half-written file that looks complete.
        checksum_path_for(final).write_text(f"{digest}  {name}\n")
        manifest = {
            "format": MANIFEST_FORMAT,
            "file": name,
            "vendor": source.vendor,
            "database": source.name if source.vendor == "postgresql" else "",
            "created_at": created_at.isoformat(),
            "size_bytes": size,
            "sha256": digest,
            "duration_seconds": round(time.monotonic() - started, 3),
            "tables": {table: fp.as_dict() for table, fp in fingerprints.items()},
        }
        manifest_path_for(final).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    progress(f"[3/3] wrote {final} ({size / 1e6:.2f} MB, sha256 {digest[:12]}...)")
    return final


# --- Retention ----------------------------------------------------------------------------------
def retention_keep(
    created: Iterable[datetime],
    *,
    keep_daily: int,
    keep_weekly: int,
    keep_within: timedelta = timedelta(0),
) -> set[datetime]:
    """Which backup times to keep: everything younger than ``keep_within`` (relative to the
    newest, so a manual backup before a deploy survives the scheduled one), the newest of each of
    the last ``keep_daily`` days that have a backup, the newest of each of the last
    ``keep_weekly`` ISO weeks, and always the newest."""
    ordered = sorted(set(created), reverse=True)
    if not ordered:
        return set()
    keep: set[datetime] = {s for s in ordered if ordered[0] - s < keep_within}
    keep.add(ordered[0])
    days: dict[Any, datetime] = {}
    weeks: dict[Any, datetime] = {}
    for stamp in ordered:
        days.setdefault(stamp.date(), stamp)
        weeks.setdefault(stamp.isocalendar()[:2], stamp)
    keep.update(list(days.values())[:keep_daily])
    keep.update(list(weeks.values())[:keep_weekly])
    return keep


def backup_apply_retention(
    *,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
    keep_within: timedelta | None = None,
) -> list[str]:
    """Delete backups (dump + sidecars) that the retention policy does not keep."""
    backups = backup_list()
    keep = retention_keep(
        (b.created_at for b in backups),
        keep_daily=settings.BACKUP_KEEP_DAILY if keep_daily is None else keep_daily,
        keep_weekly=settings.BACKUP_KEEP_WEEKLY if keep_weekly is None else keep_weekly,
        keep_within=(
            timedelta(hours=settings.BACKUP_KEEP_RECENT_HOURS)
            if keep_within is None
            else keep_within
        ),
    )
    removed: list[str] = []
    for backup in backups:
        if backup.created_at in keep:
            continue
        for path in (backup.path, backup.checksum_path, backup.manifest_path):
            path.unlink(missing_ok=True)
        removed.append(backup.path.name)
    return removed


# --- Restore ------------------------------------------------------------------------------------
def backup_restore(
    *,
    path: Path,
    target: DatabaseTarget | None = None,
    force: bool = False,
    progress: Progress = _quiet,
) -> RestoreReport:
    """Restore ``path`` into ``target`` (default: the configured database) and compare it with
    the manifest.

    Refuses (RestoreRefused) a target that already has tables unless ``force``; a PostgreSQL
    target that does not exist is created. Verifies the checksum first (BackupCorrupted).
    The caller stops every process using the target before a forced restore.
    """
    progress(f"[1/3] verifying checksum of {path.name}")
    backup_checksum_verify(path, progress)
    manifest = backup_manifest_read(path)
    target = target or DatabaseTarget.from_alias("default")
    if manifest["vendor"] != target.vendor:
        raise RestoreRefused(
            f"Backup is {manifest['vendor']}, target is {target.vendor}: "
            "restores onto another engine are not supported."
        )
    engine = engine_for(target.vendor)
    tables_now = engine.table_count(target)
    if tables_now is None:
        engine.create_database(target)
    elif tables_now > 0:
        if not force:
            raise RestoreRefused(
                f"{target.label} already has {tables_now} tables; it may be live. "
                "Restore into a fresh database, or pass --force to overwrite it.",
                tables=tables_now,
            )
        progress(f"  --force: clearing {target.label}")
        _close_django_connections_to(target)
        engine.clear(target)
    progress(f"[2/3] restoring into {target.label}")
    engine.restore(path, target, progress)
    progress("[3/3] comparing key tables with the manifest")
    report = RestoreReport(backup=path, target=target.label)
    report.tables_checked, report.mismatches = _compare_with_manifest(engine, target, manifest)
    return report


def _close_django_connections_to(target: DatabaseTarget) -> None:
    for alias in connections:
        if DatabaseTarget.from_alias(alias).same_database_as(target):
            connections[alias].close()


def _compare_with_manifest(
    engine: Any, target: DatabaseTarget, manifest: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    expected: dict[str, dict[str, Any]] = manifest["tables"]
    actual: dict[str, TableFingerprint] = engine.fingerprint(target, expected.keys())
    mismatches: list[dict[str, Any]] = []
    for table, want in sorted(expected.items()):
        got = actual.get(table)
        if got is None:
            mismatches.append({"table": table, "problem": "missing"})
        elif got.rows != want["rows"] or got.sha256 != want["sha256"]:
            mismatches.append(
                {
                    "table": table,
                    "problem": "rows" if got.rows != want["rows"] else "checksum",
                    "expected_rows": want["rows"],
                    "actual_rows": got.rows,
                }
            )
    return len(expected), mismatches


# --- Restore verification -----------------------------------------------------------------------
def backup_verify(*, path: Path, progress: Progress = _quiet) -> RestoreVerification:
    """Restore ``path`` into a scratch database, compare with its manifest, drop the scratch DB.

    Always records a RestoreVerification and sets ``mmo_restore_verify_ok``; never raises for
    a bad backup (a corrupted or mismatching backup is the result, not an error).
    """
    verification = RestoreVerification.objects.create(backup_file=path.name)
    live = DatabaseTarget.from_alias("default")
    stamp = f"{timezone.now():%Y%m%d%H%M%S}"
    try:
        engine = engine_for(live.vendor)
        scratch_name = f"{live.name}_verify_{stamp}"[-63:] if live.vendor == "postgresql" else ""
        work_dir = backup_dir() / f".verify-{stamp}-{verification.pk}"
        with scratch_database(engine, live, scratch_name or "scratch", work_dir) as scratch:
            report = backup_restore(path=path, target=scratch, progress=progress)
        verification.tables_checked = report.tables_checked
        verification.mismatches = report.mismatches
        verification.ok = report.ok
        if not report.ok:
            verification.error = f"{len(report.mismatches)} table(s) differ from the manifest"
    except Exception as exc:
        logger.exception("restore verification of %s failed", path.name)
        verification.ok = False
        verification.error = str(exc)[:2000]
    verification.finished_at = timezone.now()
    verification.save()
    _verification_publish(verification)
    return verification


def _verification_publish(verification: RestoreVerification) -> None:
    """Metric, log and ops alert for a finished verification."""
    assert verification.finished_at is not None
    metrics.RESTORE_VERIFY_OK.set(1 if verification.ok else 0)
    metrics.RESTORE_VERIFY_LAST_RUN_TIMESTAMP.set(verification.finished_at.timestamp())
    if verification.ok:
        logger.info(
            "restore verification of %s passed (%d tables)",
            verification.backup_file,
            verification.tables_checked,
        )
        ops_alert_resolve(key="restore_verification")
        return
    ops_alert_raise(
        key="restore_verification",
        source="restore_verification",
        message=f"Restore verification of {verification.backup_file or 'the latest backup'} "
        f"failed: {verification.error}",
        details={"verification": verification.pk, "mismatches": verification.mismatches},
    )


def backup_verify_latest(*, progress: Progress = _quiet) -> RestoreVerification:
    latest = backup_latest()
    if latest is None:
        verification = RestoreVerification.objects.create(
            ok=False, error="no backup found", finished_at=timezone.now()
        )
        _verification_publish(verification)
        return verification
    return backup_verify(path=latest.path, progress=progress)


def backup_age(now: datetime | None = None) -> timedelta | None:
    latest = backup_latest()
    if latest is None:
        return None
    return (now or timezone.now()) - latest.created_at
