"""Celery adapters of the chat app; schedules live in liveops/schedules.py."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from chat.services import chat_history_purge
from liveops.tasks import RETRY_POLICY


@shared_task(name="chat.purge_chat_history", **RETRY_POLICY)
def purge_chat_history(batch_size: int = 5000, max_batches: int = 200) -> dict[str, Any]:
    """Delete chat history older than CHAT_HISTORY_RETENTION_DAYS, in bounded batches.

    Idempotent (a re-run finds only what is left) and retried with backoff on database errors;
    batches deleted before an error stay deleted, so a retry continues where it stopped.
    """
    report = chat_history_purge(batch_size=batch_size, max_batches=max_batches)
    return {
        "deleted": report.deleted,
        "cutoff": report.cutoff.isoformat(),
        "complete": report.complete,
    }
