"""manage.py verify_restore [file]: restore into a scratch DB and compare with the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from liveops.backups import backup_dir, backup_verify, backup_verify_latest


class Command(BaseCommand):
    help = (
        "Restore the newest backup (or FILE) into a scratch database, compare key tables' row "
        "counts and checksums with its manifest, drop the scratch database. Exit 1 on failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="", help="Backup file; default newest")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"]:
            path = Path(options["file"])
            if not path.exists() and (backup_dir() / path).exists():
                path = backup_dir() / path
            verification = backup_verify(path=path, progress=self.stdout.write)
        else:
            verification = backup_verify_latest(progress=self.stdout.write)
        if not verification.ok:
            for mismatch in verification.mismatches:
                self.stderr.write(f"  mismatch: {mismatch}")
            raise CommandError(f"restore verification FAILED: {verification.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"restore verification passed: {verification.backup_file}, "
                f"{verification.tables_checked} tables match"
            )
        )
