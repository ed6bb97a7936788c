"""Reactions of the world to events of other areas (connected in WorldsConfig.ready)."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def close_world_connections_of_restricted_account(
    sender: Any, *, user: Any, status: str, reason: str = "", **kwargs: Any
) -> None:
    """A GM suspended or banned the account: its live world socket closes with the reason."""
    refusal = user.standing_refusal()
    if refusal is None:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            f"account-{user.pk}", {"type": "account.restricted", "reason": refusal}
        )
    except Exception:  # the ban stands even if the socket could not be told right now
        logger.exception("could not notify world connections of account %s", user.pk)
