"""Chat history writes: record the lines a shard accepted, purge lines past the retention window.

Both run outside requests: ``chat_history_record`` in a shard's worker thread (through
``worlds.runtime.chat_history.ChatHistoryBuffer``), ``chat_history_purge`` in the Celery task
``chat.purge_chat_history``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from characters.models import Character
from chat.models import ChatMessage
from worlds.models import Realm

logger = logging.getLogger(__name__)

UNKNOWN_SENDER_NAME = "?"


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One accepted chat line, ready for the history table (built by the shard runtime)."""

    realm: str  # realm slug
    shard: str
    zone: str
    channel: str
    character_id: int
    sender_name: str  # "" when the shard did not know it: taken from the character row
    text: str
    sent_at: datetime  # timezone-aware wall clock


@dataclass(frozen=True, slots=True)
class PurgeReport:
    deleted: int
    cutoff: datetime
    complete: bool  # False when max_batches stopped the run before every old row was gone


def chat_history_record(lines: Sequence[ChatLine]) -> int:
    """Store a batch of chat lines in one INSERT; returns how many rows were written.

    A sender that no longer exists (account deleted meanwhile) is stored without its key, under
    the name the shard knew. Lines of an unknown realm are logged and skipped. Database errors
    propagate: the caller keeps the batch for a retry.
    """
    if not lines:
        return 0
    realm_ids = dict(
        Realm.objects.filter(slug__in={line.realm for line in lines}).values_list("slug", "pk")
    )
    names = dict(
        Character.objects.filter(pk__in={line.character_id for line in lines}).values_list(
            "pk", "name"
        )
    )
    unknown_realms = {line.realm for line in lines} - realm_ids.keys()
    if unknown_realms:  # a misconfigured shard: say so, but never let it block the history
        logger.error("chat history: no realm %s; its lines are not kept", sorted(unknown_realms))
    rows = [
        ChatMessage(
            realm_id=realm_ids[line.realm],
            shard=line.shard,
            zone=line.zone,
            channel=line.channel,
            sender_id=line.character_id if line.character_id in names else None,
            sender_name=line.sender_name or names.get(line.character_id, UNKNOWN_SENDER_NAME),
            text=line.text,
            sent_at=line.sent_at,
        )
        for line in lines
        if line.realm in realm_ids
    ]
    ChatMessage.objects.bulk_create(rows)
    return len(rows)


def chat_history_purge(
    *, now: datetime | None = None, batch_size: int = 5000, max_batches: int = 200
) -> PurgeReport:
    """Delete chat lines older than ``CHAT_HISTORY_RETENTION_DAYS``, oldest first.

    Each batch is its own short statement (autocommit), so the purge never holds a long lock on
    the table the shards insert into. Idempotent: a re-run, or two workers at once, only find
    what is left. ``max_batches`` bounds one run; the rest waits for the next run.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CHAT_HISTORY_RETENTION_DAYS)
    old = ChatMessage.objects.filter(sent_at__lt=cutoff).order_by("sent_at", "pk")
    deleted = batches = 0
    while batches < max_batches:
        batch = list(old.values_list("pk", flat=True)[:batch_size])
        if not batch:
            break
        deleted += ChatMessage.objects.filter(pk__in=batch).delete()[0]
        batches += 1
    complete = batches < max_batches or not old.exists()
    logger.info(
        "chat history purge: deleted %d lines sent before %s%s",
        deleted,
        cutoff.isoformat(),
        "" if complete else " (more remain: the next run continues)",
    )
    return PurgeReport(deleted=deleted, cutoff=cutoff, complete=complete)
