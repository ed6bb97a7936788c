"""manage.py ops_schedules: create the periodic job rows (django-celery-beat), idempotently."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from liveops.schedules import ops_schedules_ensure


class Command(BaseCommand):
    help = (
        "Create missing periodic jobs (backups, restore verification, metrics sampling, "
        "stale-shard detection, reconciliation, ...). Existing rows keep their admin edits "
        "unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="Restore the default schedules")

    def handle(self, *args: Any, **options: Any) -> None:
        report = ops_schedules_ensure(reset=options["reset"])
        for name in report.created:
            self.stdout.write(f"created  {name}")
        for name in report.reset:
            self.stdout.write(f"reset    {name}")
        for name in report.kept:
            self.stdout.write(f"kept     {name}")
        for task in report.skipped_unregistered:
            self.stdout.write(self.style.WARNING(f"skipped  {task} (task not registered)"))
