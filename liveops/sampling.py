"""Metric sampling for the ops dashboard and the control-plane gauges.

``metrics_sample_record`` (run by ``liveops.tasks.sample_metrics`` every 15 s):

1. sets the gauges only the control plane can know: Celery queue depth (Redis ``LLEN``), backup
   age, the last restore verification and reconciliation, shard heartbeat ages/status/population;
2. reads the platform's own metrics — each URL of ``settings.OPS_METRICS_TARGETS`` (gateway
   ``/metrics``, each shard's port) or, when that is empty, this process's registry (embedded);
3. derives the dashboard figures over the interval since the previous sample (rates from counter
   deltas, p99 from histogram-bucket deltas, like PromQL's ``rate`` and ``histogram_quantile``)
   and stores them as a ``MetricSample`` row; rows older than the retention are deleted.
"""

from __future__ import annotations

import logging
import math
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from liveops import backups
from liveops.models import MetricSample, RestoreVerification
from mmo_platform import metrics

logger = logging.getLogger(__name__)

LOCAL_TARGET = "local"
TARGET_TIMEOUT_SECONDS = 3.0
# Cumulative series the dashboard derives figures from (summed over label sets).
TICK_BUCKET = "mmo_tick_duration_seconds_bucket"
RTT_BUCKET = "mmo_rtt_seconds_bucket"
RATE_COUNTERS = {
    "frames_out": ("mmo_frames_out_total",),
    "bytes_out": ("mmo_bytes_out_total",),
    "tick_overruns": ("mmo_tick_overruns_total",),
    "chat_messages": ("mmo_chat_messages_total",),
    "economy_transactions": ("mmo_economy_transactions_total",),
    "intents_rejected": ("mmo_intents_rejected_total",),
    "errors": ("mmo_log_errors_total", "mmo_celery_task_failures_total"),
}
HTTP_STATUS_COUNTER = "django_http_responses_total_by_status_total"
# The figures /ops/api/series returns, in chart order.
SERIES = (
    "players_online",
    "ws_connections",
    "tick_p99_ms",
    "rtt_p99_ms",
    "errors_per_s",
    "frames_out_per_s",
    "bytes_out_per_s",
    "tick_overruns_per_s",
    "chat_messages_per_s",
    "economy_transactions_per_s",
    "intents_rejected_per_s",
    "queue_depth",
    "backup_age_hours",
)

Samples = list[tuple[str, dict[str, str], float]]


# --- Control-plane gauges -----------------------------------------------------------------------
def celery_queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue. Redis keeps a queue as a list (plus one list per
    priority step, ``<queue>\\x06\\x16<n>``). Empty without a Redis broker (eager mode)."""
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith(("redis://", "rediss://", "unix://")):
        return {}
    import redis

    from mmo_platform.celery import app

    queue_names = sorted(app.amqp.queues.keys()) or ["celery"]
    client = redis.Redis.from_url(broker, socket_timeout=3)
    try:
        depths: dict[str, int] = {}
        for queue in queue_names:
            keys = [queue, *(f"{queue}\x06\x16{step}" for step in range(1, 10))]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            depths[queue] = sum(int(n) for n in pipe.execute())
        return depths
    finally:
        client.close()


def control_plane_gauges_update(now: datetime) -> dict[str, Any]:
    depths = celery_queue_depths()
    for queue, depth in depths.items():
        metrics.CELERY_QUEUE_DEPTH.labels(queue=queue).set(depth)

    latest = backups.backup_latest()
    if latest is None:
        # +Inf keeps "backup older than a day" true until a first backup exists.
        metrics.BACKUP_AGE_SECONDS.set(math.inf)
        backup_age: float | None = None
    else:
        backup_age = (now - latest.created_at).total_seconds()
        metrics.BACKUP_AGE_SECONDS.set(backup_age)
        metrics.BACKUP_LAST_SUCCESS_TIMESTAMP.set(latest.created_at.timestamp())

    verification = RestoreVerification.objects.filter(finished_at__isnull=False).first()
    if verification is not None and verification.finished_at is not None:
        metrics.RESTORE_VERIFY_OK.set(1 if verification.ok else 0)
        metrics.RESTORE_VERIFY_LAST_RUN_TIMESTAMP.set(verification.finished_at.timestamp())

    _reconciliation_gauges_update()
    players = _shard_gauges_update(now)
    return {
        "queue_depth": sum(depths.values()),
        "backup_age_hours": None if backup_age is None else round(backup_age / 3600, 3),
        "players_online": players,
    }


def _reconciliation_gauges_update() -> None:
    """Re-publish the last reconciliation from the database, so the gauge survives restarts."""
    try:
        from economy.models import ReconciliationRun
    except ImportError:
        return
    run = ReconciliationRun.objects.filter(finished_at__isnull=False).order_by("-pk").first()
    if run is None or run.finished_at is None:
        return
    metrics.RECONCILIATION_MISMATCHES.set(run.mismatch_count)
    metrics.RECONCILIATION_LAST_RUN_TIMESTAMP.set(run.finished_at.timestamp())


def _shard_gauges_update(now: datetime) -> int:
    from worlds.models import Shard, ShardStatus

    players = 0
    for shard in Shard.objects.select_related("realm").order_by("pk"):
        if shard.last_heartbeat is not None:
            age = max(0.0, (now - shard.last_heartbeat).total_seconds())
            metrics.SHARD_HEARTBEAT_AGE_SECONDS.labels(shard=shard.name).set(age)
        for status in ShardStatus.values:
            value = 1 if shard.status == status else 0
            metrics.SHARD_STATUS.labels(shard=shard.name, status=status).set(value)
        metrics.SHARD_REPORTED_POPULATION.labels(realm=shard.realm.name, shard=shard.name).set(
            shard.population
        )
        if shard.status != ShardStatus.OFFLINE:
            players += shard.population
    return players


# --- Reading the platform's metrics -------------------------------------------------------------
def _samples_from_families(families: Iterable[Any]) -> Samples:
    return [(s.name, dict(s.labels), float(s.value)) for f in families for s in f.samples]


def read_target(target: str) -> Samples:
    if target == LOCAL_TARGET:
        return _samples_from_families(metrics.metrics_registry_for_scrape().collect())
    if not target.startswith(("http://", "https://")):
        raise ValueError(f"metrics target must be an http(s) URL: {target}")
    request = urllib.request.Request(target)  # noqa: S310 - scheme checked above
    if settings.METRICS_TOKEN:
        request.add_header("Authorization", f"Bearer {settings.METRICS_TOKEN}")
    with urllib.request.urlopen(request, timeout=TARGET_TIMEOUT_SECONDS) as response:  # noqa: S310
        text = response.read().decode("utf-8")
    return _samples_from_families(text_string_to_metric_families(text))


def cumulative_counters(samples: Samples) -> dict[str, float]:
    """The cumulative values the dashboard needs from one target, keyed for JSON storage."""
    out: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        out[key] = out.get(key, 0.0) + value

    wanted = {name: figure for figure, names in RATE_COUNTERS.items() for name in names}
    for name, labels, value in samples:
        if name in wanted:
            add(wanted[name], value)
        elif name == HTTP_STATUS_COUNTER and labels.get("status", "").startswith("5"):
            add("errors", value)
        elif name in (TICK_BUCKET, RTT_BUCKET):
            prefix = "tick" if name == TICK_BUCKET else "rtt"
            add(f"{prefix}_le:{labels['le']}", value)
        elif name == "mmo_ws_connections":
            add("ws_connections", value)
    return out


def histogram_quantile(quantile: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative bucket counts ``{le: count}``:
    linear interpolation inside the bucket holding the rank. None when there are no
    observations; the highest finite bound when the rank falls in the +Inf bucket."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = quantile * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def _delta(current: float, previous: float) -> float:
    # A smaller cumulative value means the process restarted: count from zero, like rate().
    return current if current < previous else current - previous


def derive_figures(
    current: dict[str, dict[str, float]],
    previous: dict[str, dict[str, float]] | None,
    seconds: float | None,
) -> dict[str, float | None]:
    """Dashboard figures from two snapshots of per-target cumulative counters."""
    figures: dict[str, float | None] = {}
    figures["ws_connections"] = sum(t.get("ws_connections", 0.0) for t in current.values())
    if previous is None or not seconds or seconds <= 0:
        for figure in RATE_COUNTERS:
            figures[f"{figure}_per_s"] = None
        figures["tick_p99_ms"] = figures["rtt_p99_ms"] = None
        return figures
    deltas: dict[str, float] = {}
    for target, counters in current.items():
        before = previous.get(target)
        if before is None:
            continue  # a target seen for the first time has no interval yet
        for key, value in counters.items():
            # A series new within a known target started from zero during the interval.
            deltas[key] = deltas.get(key, 0.0) + _delta(value, before.get(key, 0.0))
    for figure in RATE_COUNTERS:
        figures[f"{figure}_per_s"] = round(deltas.get(figure, 0.0) / seconds, 3)
    for prefix in ("tick", "rtt"):
        buckets = {
            float(key.split(":", 1)[1]): value
            for key, value in deltas.items()
            if key.startswith(f"{prefix}_le:")
        }
        p99 = histogram_quantile(0.99, buckets)
        figures[f"{prefix}_p99_ms"] = None if p99 is None else round(p99 * 1000, 2)
    return figures


# --- The sampler --------------------------------------------------------------------------------
def metrics_sample_record(*, now: datetime | None = None) -> MetricSample:
    now = now or timezone.now()
    values: dict[str, Any] = control_plane_gauges_update(now)
    targets = list(settings.OPS_METRICS_TARGETS) or [LOCAL_TARGET]
    counters: dict[str, dict[str, float]] = {}
    for target in targets:
        try:
            counters[target] = cumulative_counters(read_target(target))
        except Exception as exc:
            logger.warning("metrics target %s unreadable: %s", target, exc)
    previous = MetricSample.objects.filter(taken_at__lt=now).first()
    seconds = None if previous is None else (now - previous.taken_at).total_seconds()
    values.update(derive_figures(counters, previous.counters if previous else None, seconds))
    values["targets_up"] = len(counters)
    values["targets_total"] = len(targets)
    sample = MetricSample.objects.create(taken_at=now, values=values, counters=counters)
    cutoff = now - timedelta(hours=settings.OPS_SAMPLE_RETENTION_HOURS)
    MetricSample.objects.filter(taken_at__lt=cutoff).delete()
    return sample
