"""Loads demo data so a fresh clone is a playable world. Idempotent: safe on every `make run`.

Each app contributes an optional ``<app>/demo.py`` with ``seed() -> str`` (a one-line summary);
they run in dependency order.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

SEED_ORDER = ("accounts", "worlds", "characters", "economy", "chat", "liveops")


class Command(BaseCommand):
    help = "Create demo accounts, realms, characters and content (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for app in SEED_ORDER:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            with transaction.atomic():
                summary = module.seed()
            self.stdout.write(f"{app}: {summary}")
