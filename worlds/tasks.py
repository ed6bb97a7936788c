"""Celery adapters for realm routing upkeep; the schedule lives in the ops configuration."""

from __future__ import annotations

from celery import shared_task

from worlds.services import world_routing_housekeeping


@shared_task(name="worlds.routing_housekeeping", acks_late=True)
def worlds_routing_housekeeping() -> dict[str, int]:
    """Expire slot holds, advance login queues, prune old queue places (idempotent)."""
    return world_routing_housekeeping()
