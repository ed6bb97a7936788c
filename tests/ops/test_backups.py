"""Backups: round trips with data equality, checksum refusal, manifest mismatch, retention."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from liveops import backups
from liveops.backup_engines import DatabaseTarget, engine_for, pg_conninfo
from liveops.backups import (
    BackupCorrupted,
    RestoreRefused,
    backup_apply_retention,
    backup_create,
    backup_list,
    backup_restore,
    backup_verify,
    backup_verify_latest,
    checksum_path_for,
    manifest_path_for,
    retention_keep,
)
from liveops.models import BackupRecord, BackupStatus, OpsAlert
from tests.ops.conftest import metric_value
from tests.ops.factories import sample_data

COMPARED_TABLES = ("accounts_user", "worlds_realm", "worlds_shard")


def rows(target: DatabaseTarget, table: str) -> list[tuple[Any, ...]]:
    query = f'SELECT * FROM "{table}" ORDER BY 1'
    if target.vendor == "sqlite":
        with closing(sqlite3.connect(target.name, uri=True)) as conn:
            return list(conn.execute(query).fetchall())
    with psycopg.connect(pg_conninfo(target)) as conn:
        return list(conn.execute(query).fetchall())


@pytest.fixture
def fresh_target(tmp_path: Path) -> Iterator[DatabaseTarget]:
    """An empty database of the same engine as the test database, dropped afterwards."""
    live = DatabaseTarget.from_alias()
    if live.vendor == "sqlite":
        target = live.with_name(str(tmp_path / "restored.sqlite3"))
    else:
        target = live.with_name(f"{live.name}_rt")
    engine = engine_for(live.vendor)
    engine.drop_database(target)
    yield target
    engine.drop_database(target)


def flip_bytes(path: Path, offset: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- Round trip ------------------------------------------------------------------------------
def _round_trip(fresh_target: DatabaseTarget) -> None:
    # given
    sample_data()
    live = DatabaseTarget.from_alias()
    # when
    record = backup_create(progress=lambda _m: None)
    report = backup_restore(path=backups.backup_dir() / record.file_name, target=fresh_target)
    # then
    assert record.status == BackupStatus.OK
    assert report.ok, report.mismatches
    assert report.tables_checked >= len(COMPARED_TABLES)
    for table in COMPARED_TABLES:
        live_rows = rows(live, table)
        assert live_rows, table
        assert rows(fresh_target, table) == live_rows, table


@pytest.mark.django_db(transaction=True)
def test_backup_restore_round_trip_sqlite(fresh_target: DatabaseTarget) -> None:
    if fresh_target.vendor != "sqlite":
        pytest.skip("SQLite round trip runs on the SQLite suite")
    _round_trip(fresh_target)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backup_restore_round_trip_postgres(fresh_target: DatabaseTarget) -> None:
    _round_trip(fresh_target)
    assert backup_list()[0].path.read_bytes()[:5] == b"PGDMP"  # pg_dump custom format


@pytest.mark.django_db(transaction=True)
def test_backup_writes_checksum_and_manifest_with_fingerprints(backup_dir: Path) -> None:
    sample_data()
    record = backup_create()
    dump = backup_dir / record.file_name
    manifest = json.loads(manifest_path_for(dump).read_text())
    digest, name = checksum_path_for(dump).read_text().split()
    assert name == dump.name
    assert digest == manifest["sha256"] == record.sha256
    assert manifest["size_bytes"] == dump.stat().st_size == record.size_bytes
    assert manifest["tables"]["accounts_user"]["rows"] == 3
    assert manifest["tables"]["worlds_shard"]["rows"] == 2
    assert metric_value("mmo_backup_age_seconds") == 0
    assert not list(backup_dir.glob(".*partial"))


@pytest.mark.django_db(transaction=True)
def test_backup_list_ignores_dump_without_manifest(backup_dir: Path) -> None:
    record = backup_create()
    orphan = backup_dir / "mmo-sqlite-20200101T000000000000Z.sqlite3"
    orphan.write_bytes(b"half written")
    assert [b.path.name for b in backup_list()] == [record.file_name]


@pytest.mark.django_db
def test_backup_refuses_to_run_inside_a_transaction() -> None:
    with transaction.atomic(), pytest.raises(RuntimeError, match="transaction"):
        backup_create()


@pytest.mark.django_db(transaction=True)
def test_failed_backup_is_recorded_counted_and_alerted(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    engine_cls = type(engine_for(DatabaseTarget.from_alias().vendor))
    monkeypatch.setattr(engine_cls, "dump", broken_dump)
    failures_before = metric_value("mmo_backup_failures_total")
    with pytest.raises(OSError, match="disk full"):
        backup_create()
    record = BackupRecord.objects.get()
    assert record.status == BackupStatus.FAILED
    assert "disk full" in record.error
    assert metric_value("mmo_backup_failures_total") == failures_before + 1
    assert OpsAlert.objects.get(key="backup", resolved_at__isnull=True)
    # A later success resolves the alert.
    monkeypatch.undo()
    backup_create()
    assert not OpsAlert.objects.filter(key="backup", resolved_at__isnull=True).exists()


# --- Refusals ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_non_empty_target_without_force(fresh_target: DatabaseTarget) -> None:
    sample_data()
    path = backups.backup_dir() / backup_create().file_name
    backup_restore(path=path, target=fresh_target)
    with pytest.raises(RestoreRefused, match="--force"):
        backup_restore(path=path, target=fresh_target)
    report = backup_restore(path=path, target=fresh_target, force=True)
    assert report.ok


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_the_live_database_without_force() -> None:
    sample_data()
    path = backups.backup_dir() / backup_create().file_name
    with pytest.raises(RestoreRefused):
        backup_restore(path=path)


@pytest.mark.django_db(transaction=True)
def test_corrupted_backup_is_refused_and_fails_verification(
    fresh_target: DatabaseTarget,
) -> None:
    # given a backup whose bytes changed after it was written
    sample_data()
    path = backups.backup_dir() / backup_create().file_name
    flip_bytes(path)
    # when / then: restore refuses before touching the target
    with pytest.raises(BackupCorrupted, match="Checksum mismatch"):
        backup_restore(path=path, target=fresh_target)
    assert engine_for(fresh_target.vendor).table_count(fresh_target) is None
    # and the verification job fails, sets the metric and opens an alert
    verification = backup_verify_latest()
    assert not verification.ok
    assert "Checksum mismatch" in verification.error
    assert metric_value("mmo_restore_verify_ok") == 0
    alert = OpsAlert.objects.get(key="restore_verification", resolved_at__isnull=True)
    assert alert.severity == "critical"


@pytest.mark.django_db(transaction=True)
def test_backup_without_checksum_file_is_refused(fresh_target: DatabaseTarget) -> None:
    path = backups.backup_dir() / backup_create().file_name
    checksum_path_for(path).unlink()
    with pytest.raises(BackupCorrupted, match="checksum file"):
        backup_restore(path=path, target=fresh_target)


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_another_engine(fresh_target: DatabaseTarget) -> None:
    path = backups.backup_dir() / backup_create().file_name
    manifest = json.loads(manifest_path_for(path).read_text())
    manifest["vendor"] = "postgresql" if fresh_target.vendor == "sqlite" else "sqlite"
    manifest_path_for(path).write_text(json.dumps(manifest))
    with pytest.raises(RestoreRefused, match="another engine"):
        backup_restore(path=path, target=fresh_target)


@pytest.mark.django_db(transaction=True)
def test_verification_catches_content_that_differs_from_the_manifest() -> None:
    # given a backup whose data no longer matches its manifest, with a *valid* checksum
    # (as if the dump tool had silently dropped rows)
    sample_data()
    path = backups.backup_dir() / backup_create().file_name
    if DatabaseTarget.from_alias().vendor == "sqlite":
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("DELETE FROM accounts_user WHERE username = 'ops_user_1'")
            conn.execute("UPDATE worlds_shard SET population = 99 WHERE name = 'ops-a'")
            conn.commit()
    else:
        manifest = json.loads(manifest_path_for(path).read_text())
        manifest["tables"]["accounts_user"]["rows"] = 4
        manifest["tables"]["worlds_shard"]["sha256"] = "0" * 64
        manifest_path_for(path).write_text(json.dumps(manifest))
    digest = backups.file_sha256(path)
    checksum_path_for(path).write_text(f"{digest}  {path.name}\n")
    # when
    verification = backup_verify(path=path)
    # then
    assert not verification.ok
    problems = {m["table"]: m["problem"] for m in verification.mismatches}
    assert problems == {"accounts_user": "rows", "worlds_shard": "checksum"}
    assert metric_value("mmo_restore_verify_ok") == 0


@pytest.mark.django_db(transaction=True)
def test_verification_of_a_good_backup_passes_and_resolves_the_alert() -> None:
    sample_data()
    backup_create()
    OpsAlert.objects.create(key="restore_verification", source="restore_verification", message="x")
    verification = backup_verify_latest()
    assert verification.ok, verification.error
    assert verification.tables_checked > 10
    assert metric_value("mmo_restore_verify_ok") == 1
    assert not OpsAlert.objects.filter(key="restore_verification", resolved_at__isnull=True)
    # The scratch database is gone.
    assert not list(backups.backup_dir().glob(".verify-*"))


@pytest.mark.django_db
def test_verification_without_any_backup_fails() -> None:
    verification = backup_verify_latest()
    assert not verification.ok
    assert verification.error == "no backup found"


# --- Retention --------------------------------------------------------------------------------
def test_retention_keeps_seven_daily_and_four_weekly() -> None:
    start = datetime(2026, 1, 1, 3, 17, tzinfo=UTC)
    # Two backups a day for 60 days.
    stamps = [start + timedelta(days=d, hours=h) for d in range(60) for h in (0, 12)]
    keep = retention_keep(stamps, keep_daily=7, keep_weekly=4)
    newest = max(stamps)
    daily = {s for s in keep if newest - s < timedelta(days=7)}
    assert len(daily) == 7  # newest of each of the last 7 days
    assert all(s.hour == 15 for s in daily)  # the later backup of each day
    weekly = keep - daily
    # The newest of each of the 4 latest ISO weeks; the latest weeks' newest are daily ones.
    weeks_kept = {s.isocalendar()[:2] for s in keep}
    assert len(weeks_kept) == 4
    assert 1 <= len(weekly) <= 3
    assert all(
        s == max(t for t in stamps if t.isocalendar()[:2] == s.isocalendar()[:2]) for s in weekly
    )


def test_retention_always_keeps_the_newest() -> None:
    only = datetime(2026, 1, 1, tzinfo=UTC)
    assert retention_keep([only], keep_daily=0, keep_weekly=0) == {only}
    assert retention_keep([], keep_daily=7, keep_weekly=4) == set()


def test_retention_keeps_recent_backups_of_the_same_day() -> None:
    newest = datetime(2026, 1, 10, 12, tzinfo=UTC)
    manual = newest - timedelta(hours=2)
    older = newest - timedelta(days=3, hours=1)
    keep = retention_keep(
        [newest, manual, older], keep_daily=0, keep_weekly=0, keep_within=timedelta(hours=24)
    )
    assert keep == {newest, manual}


@pytest.mark.django_db(transaction=True)
def test_a_second_backup_the_same_day_keeps_the_first(backup_dir: Path) -> None:
    first = backup_dir / backup_create().file_name
    backup_create()
    assert first.exists()


@pytest.mark.django_db(transaction=True)
def test_apply_retention_deletes_dump_and_sidecars(backup_dir: Path) -> None:
    first = backup_dir / backup_create().file_name
    second = backup_dir / backup_create().file_name
    removed = backup_apply_retention(keep_daily=0, keep_weekly=0, keep_within=timedelta(0))
    assert removed == [first.name]
    assert not first.exists()
    assert not checksum_path_for(first).exists()
    assert not manifest_path_for(first).exists()
    assert second.exists()


# --- Commands ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_commands_backup_restore_verify(
    fresh_target: DatabaseTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    sample_data()
    call_command("backup")
    out = capsys.readouterr().out
    assert "[1/3]" in out and "[3/3]" in out and "backup ok" in out  # progress lines
    name = backup_list()[0].path.name
    url = (
        f"sqlite:///{fresh_target.name}"
        if fresh_target.vendor == "sqlite"
        else f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
        f"{connection.settings_dict['PORT'] or 5432}/{fresh_target.name}"
    )
    call_command("restore", name, "--database-url", url)
    assert "key tables match the manifest" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", name, "--database-url", url)
    call_command("verify_restore")
    assert "restore verification passed" in capsys.readouterr().out
    flip_bytes(backup_list()[0].path)
    with pytest.raises(CommandError, match="FAILED"):
        call_command("verify_restore", name)


# --- SQLite engine on its own (runs on every suite, PostgreSQL CI included) --------------------
def test_sqlite_engine_dump_is_one_snapshot_even_with_a_concurrent_writer(tmp_path: Path) -> None:
    # given a WAL database with data
    live_path = tmp_path / "live.sqlite3"
    with closing(sqlite3.connect(live_path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        conn.executemany(
            "INSERT INTO item (name, price) VALUES (?, ?)",
            [(f"it'em {i}", i / 3) for i in range(50)],
        )
    live = DatabaseTarget(vendor="sqlite", settings={"NAME": str(live_path)})
    engine = engine_for("sqlite")
    writer = sqlite3.connect(live_path, isolation_level=None)

    def write_during_dump(message: str) -> None:
        # A player buys something while the pages are copied.
        if "copying pages" in message:
            writer.execute("INSERT INTO item (name, price) VALUES ('late', 1.0)")

    # when
    dump = tmp_path / "dump.sqlite3"
    fingerprints = engine.dump(live, dump, ["item", "missing_table"], write_during_dump)
    writer.close()
    restored = DatabaseTarget(vendor="sqlite", settings={"NAME": str(tmp_path / "r.sqlite3")})
    engine.restore(dump, restored, lambda _m: None)
    # then: the dump and its fingerprint agree, and neither has the late row
    assert fingerprints["item"].rows == 50
    assert "missing_table" not in fingerprints
    assert engine.fingerprint(restored, ["item"]) == {"item": fingerprints["item"]}
    assert len(rows(live, "item")) == 51
    assert rows(restored, "item") == rows(live, "item")[:50]
