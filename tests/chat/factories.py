"""Chat history rows written straight to the table (the shard path has its own tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from characters.models import Character
from chat.models import ChatMessage


def chat_message_create(
    sender: Character, *, text: str = "hello", days_ago: float = 0.0, channel: str = "say"
) -> ChatMessage:
    sent_at: datetime = timezone.now() - timedelta(days=days_ago)
    return ChatMessage.objects.create(
        realm=sender.realm,
        shard="shard-1",
        zone=sender.zone,
        channel=channel,
        sender=sender,
        sender_name=sender.name,
        text=text,
        sent_at=sent_at,
    )
