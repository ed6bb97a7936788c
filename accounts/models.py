"""Accounts: the custom user model (present from the first migration) and account status."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

STATUS_REASON_MAX_LENGTH = 500


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    BANNED = "banned", "Banned"


class User(AbstractUser):
    """A player, GM or operator account.

    ``status`` is the game-side standing, distinct from Django's ``is_active`` (which we leave
    True so allauth can tell a suspended player *why* they cannot log in).
    """

    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=STATUS_REASON_MAX_LENGTH, blank=True, default="")
    suspended_until = models.DateTimeField(null=True, blank=True)
    region = models.CharField(
        max_length=8, default="eu", help_text="Preferred region for shard routing (eu, na, ap)."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="suspended") | models.Q(suspended_until__isnull=False),
                name="accounts_user_suspension_has_end",
            )
        ]

    def standing_refusal(self, *, now: datetime | None = None) -> str | None:
        """Return why this account may not play right now, or None when it may."""
        now = now or timezone.now()
        if self.status == AccountStatus.BANNED:
            return f"This account is banned: {self.status_reason or 'no reason given'}."
        if (
            self.status == AccountStatus.SUSPENDED
            and self.suspended_until
            and self.suspended_until > now
        ):
            until = self.suspended_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            reason = self.status_reason or "no reason given"
            return f"This account is suspended until {until}: {reason}."
        return None
