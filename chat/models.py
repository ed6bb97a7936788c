"""Chat history: every line a shard accepted, kept for ``CHAT_HISTORY_RETENTION_DAYS`` so a GM can
read what was said (admin, read-only) and then purged by ``chat.purge_chat_history``.

Rows are written by the shards in batches (``chat.services.chat_history_record``, called from
``worlds.runtime.chat_history``), never by a request. The layout leaves room for the chat
feature that comes later without rewriting this table:

- ``channel`` is a string kind, not an enum column: whispers, party and guild lines are new
  values; ``channel_key`` names the conversation inside the kind (``""`` for say/zone, whose
  audience is the zone; the party or guild id; for a whisper the recipient character id).
- ``zone`` is always where the sender stood, whatever the channel.
- GM mutes are their own model (who, until when, why); a muted line is refused before it reaches
  the sim, so it never lands here.
- The sender is kept twice: a foreign key for lookups, and a name snapshot that survives the
  character's deletion (the key is then set to NULL).
"""

from __future__ import annotations

from django.db import models


class ChatChannel(models.TextChoices):
    SAY = "say", "Say (nearby)"
    ZONE = "zone", "Zone"
    # Reserved for the chat feature (not written yet); listed so the admin filter knows them.
    WHISPER = "whisper", "Whisper"
    PARTY = "party", "Party"
    GUILD = "guild", "Guild"


class ChatMessage(models.Model):
    realm = models.ForeignKey("worlds.Realm", on_delete=models.PROTECT, related_name="+")
    shard = models.CharField(max_length=60, help_text="Name of the shard that accepted the line.")
    zone = models.CharField(max_length=40, help_text="Zone the sender stood in.")
    channel = models.CharField(max_length=16, choices=ChatChannel.choices)
    channel_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Conversation inside the channel kind (party/guild id, whisper recipient).",
    )
    # No database constraint (ADR 0060): an insert from a shard must never fail, nor block an
    # account deletion, because of a sender deleted meanwhile. Django still applies SET_NULL when
    # a character row is deleted. The composite (sender, sent_at) index serves lookups by sender.
    sender = models.ForeignKey(
        "characters.Character",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    sender_name = models.CharField(max_length=16)
    text = models.TextField()
    sent_at = models.DateTimeField(db_index=True)  # wall clock; the retention purge scans it

    class Meta:
        indexes = [
            models.Index(fields=["realm", "zone", "sent_at"], name="chat_msg_realm_zone_time"),
            models.Index(fields=["sender", "sent_at"], name="chat_msg_sender_time"),
        ]

    def __str__(self) -> str:
        return f"[{self.channel}] {self.sender_name}: {self.text[:40]}"
