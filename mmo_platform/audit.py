"""GM actions are audited in Django's admin log (``LogEntry``): who acted, on which object,
when, and a message that carries the reason. The admin shows it under "Recent actions" and in
each object's "History"; services call this inside their transaction, so an action and its
record commit together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Model


def gm_action_record(*, actor: Any, objects: Iterable[Model], message: str) -> None:
    """One admin-log entry per object for ``actor``'s action (nothing for system actions)."""
    if actor is None or getattr(actor, "pk", None) is None:
        return
    targets = list(objects)
    if targets:
        LogEntry.objects.log_actions(
            user_id=actor.pk, queryset=targets, action_flag=CHANGE, change_message=message
        )
