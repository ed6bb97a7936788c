"""Live-ops models.

Operations part (issue 5): backup records, restore verifications, ops alerts and the metric
samples behind the /ops/ dashboard. Written by liveops/backups.py and liveops/ops_services.py.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class BackupRecord(models.Model):
    """One backup attempt. The file itself, its ``.sha256`` and ``.manifest.json`` sidecars live
    in ``settings.BACKUP_DIR``; this row is the index the dashboard and the metrics read."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=BackupStatus.choices, default=BackupStatus.RUNNING
    )
    trigger = models.CharField(max_length=20, default="manual", help_text="manual or scheduled")
    vendor = models.CharField(max_length=20)
    file_name = models.CharField(max_length=255, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    table_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.file_name or 'backup'} ({self.status})"


class RestoreVerification(models.Model):
    """A restore of a backup into a scratch database, compared against its manifest."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    backup_file = models.CharField(max_length=255, blank=True, default="")
    ok = models.BooleanField(default=False)
    tables_checked = models.PositiveIntegerField(default=0)
    mismatches = models.JSONField(
        default=list, blank=True, help_text="Tables whose row count or checksum differ."
    )
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.backup_file} {'ok' if self.ok else 'FAILED'}"


class AlertSeverity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class OpsAlert(models.Model):
    """An operational problem the platform noticed itself (backup failed, verification failed,
    reconciliation mismatch, shard stale). Prometheus alerting covers the same ground from the
    metrics; these rows give on-call the details on /ops/ and in the admin.

    One open alert per ``key``: a repeat bumps ``occurrences`` instead of adding rows.
    """

    key = models.CharField(max_length=120, help_text="What the alert is about, e.g. backup.")
    source = models.CharField(max_length=40)
    severity = models.CharField(
        max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    raised_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(resolved_at__isnull=True),
                name="liveops_opsalert_one_open_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.key}: {self.message[:60]}"


class MetricSample(models.Model):
    """One point of the ops dashboard's time series, written by ``liveops.tasks.sample_metrics``.

    ``values`` holds the derived figures the charts draw (players online, tick p99, ...);
    ``counters`` holds the cumulative counters/histogram buckets they were derived from, so the
    next sample can compute rates and percentiles over the interval. A ring buffer: rows older
    than ``OPS_SAMPLE_RETENTION_HOURS`` are deleted by the sampler.
    """

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    values = models.JSONField(default=dict)
    counters = models.JSONField(default=dict)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"sample {self.taken_at:%Y-%m-%d %H:%M:%S}"
