"""Demo/bootstrap data of liveops (called by ``manage.py seed_demo``): the periodic job
schedules, so a fresh install has its backups, sampling and housekeeping scheduled."""

from __future__ import annotations

from liveops.schedules import ops_schedules_ensure


def seed() -> str:
    report = ops_schedules_ensure()
    summary = f"schedules: {len(report.created)} created, {len(report.kept)} kept"
    if report.skipped_unregistered:
        summary += f", not registered: {', '.join(report.skipped_unregistered)}"
    return summary
