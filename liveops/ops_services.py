"""Operations services: ops alerts and the flush-callback registry.

Alerts are raised by the ops tasks (backup, restore verification, reconciliation, stale shards)
and shown on /ops/ and in the admin. Prometheus alerting (deploy/prometheus/alerts.yml) fires on
the same conditions from the metrics; these rows carry the details.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from liveops.models import AlertSeverity, OpsAlert
from mmo_platform import metrics

logger = logging.getLogger(__name__)


def ops_alert_raise(
    *,
    key: str,
    source: str,
    message: str,
    severity: str = AlertSeverity.CRITICAL,
    details: dict[str, Any] | None = None,
) -> OpsAlert:
    """Open an alert for ``key`` or, if one is open, count another occurrence. Logs at ERROR
    (critical) or WARNING so log-based alerting sees it too."""
    level = logging.ERROR if severity == AlertSeverity.CRITICAL else logging.WARNING
    logger.log(level, "ops alert %s: %s", key, message, extra={"alert_key": key})
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                alert = (
                    OpsAlert.objects.select_for_update()
                    .filter(key=key, resolved_at__isnull=True)
                    .first()
                )
                if alert is None:
                    return OpsAlert.objects.create(
                        key=key,
                        source=source,
                        severity=severity,
                        message=message,
                        details=details or {},
                        raised_at=now,
                        last_seen_at=now,
                    )
                alert.occurrences += 1
                alert.message = message
                alert.severity = severity
                alert.details = details or {}
                alert.last_seen_at = now
                alert.save(
                    update_fields=["occurrences", "message", "severity", "details", "last_seen_at"]
                )
                return alert
        except IntegrityError:
            # Another worker opened the same alert between our read and insert: update that one.
            continue
    raise RuntimeError(f"could not raise ops alert {key}")


def ops_alert_resolve(*, key: str) -> int:
    """Close the open alert for ``key`` (the condition cleared). Returns how many were closed."""
    return OpsAlert.objects.filter(key=key, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


# --- World-state flush hooks --------------------------------------------------------------------
FlushCallback = Callable[[], int]
_flush_callbacks: dict[str, FlushCallback] = {}
_flush_lock = threading.Lock()


def world_flush_register(name: str, callback: FlushCallback) -> None:
    """Register a callable that saves in-memory world state now and returns how many records it
    wrote. The shard runner registers one per shard; the safety-net task calls them all."""
    with _flush_lock:
        _flush_callbacks[name] = callback


def world_flush_unregister(name: str) -> None:
    with _flush_lock:
        _flush_callbacks.pop(name, None)


def world_flush_all() -> dict[str, int]:
    """Run every registered flush callback; one failing does not stop the others.

    Raises RuntimeError after trying them all if any failed, so the task retries.
    """
    with _flush_lock:
        callbacks = dict(_flush_callbacks)
    written: dict[str, int] = {}
    failures: list[str] = []
    for name, callback in callbacks.items():
        try:
            written[name] = int(callback())
        except Exception:
            logger.exception("world flush %s failed", name)
            failures.append(name)
    if failures:
        raise RuntimeError(f"world flush failed for {', '.join(failures)}")
    return written


WORLD_FLUSH_CHANNEL = "mmo:ops:flush"


def world_flush_request_remote() -> int:
    """Publish a flush request to shard processes (production). Returns how many subscribers
    received it; 0 without Redis. A shard process subscribes to ``WORLD_FLUSH_CHANNEL`` and
    calls its own flush when a message arrives."""
    if not settings.REDIS_URL:
        return 0
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    try:
        return int(client.publish(WORLD_FLUSH_CHANNEL, b"flush"))
    finally:
        client.close()


# --- Stale shards -------------------------------------------------------------------------------
def shards_mark_stale(*, timeout: timedelta, now: datetime | None = None) -> list[str]:
    """Mark online/draining shards whose last heartbeat is older than ``timeout`` (or missing)
    offline and zero their reported population, so routing skips them and the player count
    does not include players of a dead process. An operator's held status is kept, so the next
    heartbeat restores it. Idempotent. Returns the names marked.

    Query: ``status IN (online, draining) AND (last_heartbeat IS NULL OR last_heartbeat < now -
    timeout)``, re-checked under the row lock (taken in pk order) because a heartbeat may land
    between the read and the write.
    """
    from worlds.models import Shard, ShardStatus

    now = now or timezone.now()
    cutoff = now - timeout
    stale_q = Q(last_heartbeat__isnull=True) | Q(last_heartbeat__lt=cutoff)
    live_statuses = [ShardStatus.ONLINE, ShardStatus.DRAINING]
    marked: list[str] = []
    with transaction.atomic():
        shards = (
            Shard.objects.select_for_update()
            .filter(stale_q, status__in=live_statuses)
            .order_by("pk")
        )
        for shard in shards:
            shard.status = ShardStatus.OFFLINE
            shard.population = 0
            shard.zone_populations = {}
            shard.save(update_fields=["status", "population", "zone_populations"])
            marked.append(shard.name)
    for name in marked:
        logger.warning("shard %s marked offline: no heartbeat since %s", name, cutoff.isoformat())
        metrics.SHARDS_MARKED_STALE.inc()
    return marked
