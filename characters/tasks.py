"""Celery adapters for character upkeep; the schedule lives in the ops configuration."""

from __future__ import annotations

from celery import shared_task

from characters.services import character_purge_expired


@shared_task(name="characters.purge_expired", acks_late=True)
def characters_purge_expired() -> int:
    """Purge soft-deleted characters past their restore window (idempotent)."""
    return character_purge_expired()
