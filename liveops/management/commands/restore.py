"""manage.py restore <file>: restore a backup into a fresh database (checksum-verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liveops.backup_engines import DatabaseTarget
from liveops.backups import BackupCorrupted, RestoreRefused, backup_dir, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup file into --database-url (default: the configured database). "
        "Verifies the .sha256 first, refuses a target that already has tables unless --force, "
        "and compares the restored key tables with the backup's manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Backup file (path, or a name inside BACKUP_DIR)")
        parser.add_argument(
            "--database-url",
            default="",
            help="Target, e.g. postgres://user@host/mmo_restored or sqlite:////path/db.sqlite3",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Overwrite a target that already has tables (stop every process using it first)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.exists() and (backup_dir() / path).exists():
            path = backup_dir() / path
        target = (
            DatabaseTarget.from_url(options["database_url"]) if options["database_url"] else None
        )
        try:
            report = backup_restore(
                path=path, target=target, force=options["force"], progress=self.stdout.write
            )
        except (BackupCorrupted, RestoreRefused) as exc:
            raise CommandError(exc.message) from exc
        if not report.ok:
            for mismatch in report.mismatches:
                self.stderr.write(f"  mismatch: {mismatch}")
            raise CommandError(
                f"restored into {report.target}, but {len(report.mismatches)} table(s) differ "
                "from the manifest"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"restored {path.name} into {report.target}; "
                f"{report.tables_checked} key tables match the manifest"
            )
        )
