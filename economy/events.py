"""Notifications from the economy to the live world, sent only after the transaction commits.

The world gateway/shard subscribes each connected character to the group ``character-{id}`` and
reloads what ``what`` names (``"equipment"`` → ``economy.selectors.equipment_stat_bonus``).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("economy.events")


def character_group(character_id: int) -> str:
    return f"character-{character_id}"


def publish_character_changed(character_id: int, what: str) -> None:
    """Send ``{"type": "character.changed", "what": what}`` to the character's group now.

    Best effort: the database is the truth and the world reloads it on the next join, so a
    channel-layer outage is logged, never raised into the committed use case."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "character.changed", "what": what, "character_id": character_id}
    try:
        async_to_sync(layer.group_send)(character_group(character_id), message)
    except Exception:  # any layer failure must not break a committed economy change
        logger.exception("could not publish character.changed for character %s", character_id)


def publish_character_changed_on_commit(character_id: int, what: str) -> None:
    transaction.on_commit(lambda: publish_character_changed(character_id, what))
