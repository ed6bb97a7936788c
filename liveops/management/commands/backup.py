"""manage.py backup: dump the database with checksum + manifest, then apply retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liveops.backups import backup_apply_retention, backup_create, backup_list


class Command(BaseCommand):
    help = (
        "Back up the database into BACKUP_DIR (PostgreSQL: pg_dump custom format; SQLite: "
        "online backup API) with a .sha256 and a .manifest.json, then keep 7 daily + 4 weekly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default", help="DATABASES alias")
        parser.add_argument("--list", action="store_true", help="List backups and exit")
        parser.add_argument(
            "--retention-only", action="store_true", help="Only delete backups past retention"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for backup in backup_list():
                size = backup.manifest.get("size_bytes", 0) / 1e6
                self.stdout.write(
                    f"{backup.created_at:%Y-%m-%d %H:%M:%S}  {size:9.2f} MB  {backup.path}"
                )
            return
        if options["retention_only"]:
            removed = backup_apply_retention()
            self.stdout.write(f"removed {len(removed)} backup(s)")
            return
        try:
            record = backup_create(alias=options["database"], progress=self.stdout.write)
        except Exception as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"backup ok: {record.file_name}"))
