"""Season calendars: which period of a reset schedule contains a moment (all in UTC).

Seasons are aligned to the calendar, not to when a board was created or last rolled over, so a
weekly board always runs Monday 00:00 → Monday 00:00 UTC whatever the rollover job's delays.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from liveops.models import LeaderboardReset


def season_period_containing(schedule: str, moment: datetime) -> tuple[datetime, datetime | None]:
    """``(start, end)`` of the ``schedule`` period that contains ``moment`` (start inclusive,
    end exclusive); ``end`` is None for boards that never reset (start is then ``moment``)."""
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if schedule == LeaderboardReset.NEVER:
        return moment, None
    if schedule == LeaderboardReset.DAILY:
        return midnight, midnight + timedelta(days=1)
    if schedule == LeaderboardReset.WEEKLY:
        monday = midnight - timedelta(days=midnight.weekday())
        return monday, monday + timedelta(days=7)
    if schedule == LeaderboardReset.MONTHLY:
        first = midnight.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    raise ValueError(f"unknown reset schedule {schedule!r}")
