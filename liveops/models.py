"""Live-ops models.

Operations part (issue 5): backup records, restore verifications, ops alerts and the metric
samples behind the /ops/ dashboard. Written by liveops/backups.py and liveops/ops_services.py.
Leaderboards: boards, seasons and records, written by liveops/leaderboard_services.py.
"""

from __future__ import annotations

from django.conf import settings
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


# --- Leaderboards (docs/decisions/0062-leaderboard-seasons.md) -------------------------------


class LeaderboardScope(models.TextChoices):
    GLOBAL = "global", "Global (all realms)"
    # One calendar for all realms; ranks (and rewards) are computed within each realm.
    REALM = "realm", "Per realm"


class LeaderboardSource(models.TextChoices):
    # Scores come from game code through leaderboard_services.leaderboard_submit_score.
    SUBMITTED = "submitted", "Submitted by game services"
    # Built-in boards: a periodic snapshot of existing data (leaderboard_builtin_refresh).
    CHARACTER_LEVEL = "character_level", "Character level (xp breaks ties)"
    WEALTH_GOLD = "wealth_gold", "Gold in the character's wallet"


class LeaderboardOperator(models.TextChoices):
    BEST = "best", "Keep the best score"
    SET = "set", "Keep the latest score"
    INCR = "incr", "Add to the score"


class LeaderboardSortOrder(models.TextChoices):
    DESCENDING = "desc", "Higher is better"
    ASCENDING = "asc", "Lower is better"


class LeaderboardReset(models.TextChoices):
    NEVER = "never", "Never (one endless season)"
    DAILY = "daily", "Daily at 00:00 UTC"
    WEEKLY = "weekly", "Weekly, Monday 00:00 UTC"
    MONTHLY = "monthly", "Monthly, on the 1st at 00:00 UTC"


class Leaderboard(models.Model):
    """A ranking players see on /leaderboards/. Seasons partition it in time; its records live
    in the seasons. ``rewards`` is data: a list of tiers ``{"ranks": [first, last],
    "currency": "gold", "amount": 100, "items": [["item_id", 1]]}`` granted at season close
    through the economy (validated by ``leaderboard_services.rewards_validate``)."""

    key = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True, default="")
    scope = models.CharField(
        max_length=8, choices=LeaderboardScope.choices, default=LeaderboardScope.GLOBAL
    )
    source = models.CharField(
        max_length=20, choices=LeaderboardSource.choices, default=LeaderboardSource.SUBMITTED
    )
    operator = models.CharField(
        max_length=4, choices=LeaderboardOperator.choices, default=LeaderboardOperator.BEST
    )
    sort_order = models.CharField(
        max_length=4, choices=LeaderboardSortOrder.choices, default=LeaderboardSortOrder.DESCENDING
    )
    reset_schedule = models.CharField(
        max_length=8, choices=LeaderboardReset.choices, default=LeaderboardReset.WEEKLY
    )
    rewards = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Disabled boards are hidden, refuse scores and do not roll over."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from liveops.leaderboard_services import leaderboard_definition_check
        from mmo_platform.errors import DomainError

        try:
            leaderboard_definition_check(self)
        except DomainError as error:
            raise ValidationError(error.message, code=error.code) from error


class SeasonStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class LeaderboardSeason(models.Model):
    """One period of a board. Exactly one active season per board (a database constraint);
    closing freezes ``LeaderboardRecord.final_rank``. ``ends_at`` is None for boards that never
    reset. ``closed_by``/``close_reason`` audit a GM's early close (None/"" for the schedule)."""

    board = models.ForeignKey(Leaderboard, on_delete=models.CASCADE, related_name="seasons")
    number = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=SeasonStatus.choices, default=SeasonStatus.ACTIVE
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept even if the GM account is removed later: the audit must still say who.
    closed_by_label = models.CharField(max_length=150, blank=True, default="")
    close_reason = models.TextField(blank=True, default="")
    # The board's reward tiers as they stood at the close: what this season's ranks are paid,
    # whatever a GM changes on the board before the payout job runs.
    rewards = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["board_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["board", "number"], name="liveops_season_unique_number"
            ),
            models.UniqueConstraint(
                fields=["board"],
                condition=models.Q(status="active"),
                name="liveops_season_one_active_per_board",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="liveops_season_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.board} — season {self.number}"


class RewardState(models.TextChoices):
    NONE = "none", "No reward"
    PENDING = "pending", "Pending"
    GRANTED = "granted", "Granted"
    FAILED = "failed", "Failed (see error)"


class LeaderboardRecord(models.Model):
    """A character's score in one season. ``realm`` is copied from the character so per-realm
    boards rank with one index range. ``updated_at`` changes only when the score does: the
    earlier achiever wins a tie."""

    season = models.ForeignKey(LeaderboardSeason, on_delete=models.CASCADE, related_name="records")
    character = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="leaderboard_records"
    )
    realm = models.ForeignKey("worlds.Realm", on_delete=models.PROTECT, related_name="+")
    score = models.BigIntegerField()
    subscore = models.BigIntegerField(default=0, help_text="Breaks ties between equal scores.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    final_rank = models.PositiveIntegerField(null=True, blank=True)
    reward_state = models.CharField(
        max_length=8, choices=RewardState.choices, default=RewardState.NONE
    )
    reward_transaction_id = models.BigIntegerField(
        null=True, blank=True, help_text="The economy ledger transaction of the reward."
    )
    reward_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["season_id", "final_rank", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["season", "character"], name="liveops_record_one_per_character"
            )
        ]
        indexes = [
            models.Index(fields=["season", "score", "subscore"], name="liveops_record_rank"),
            models.Index(
                fields=["season", "realm", "score", "subscore"], name="liveops_record_realm_rank"
            ),
            models.Index(fields=["reward_state"], name="liveops_record_reward_state"),
        ]

    def __str__(self) -> str:
        return f"{self.character_id} in {self.season_id}: {self.score}"
