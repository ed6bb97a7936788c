"""In-process scheduler for embedded mode: runs due django-celery-beat jobs eagerly.

Embedded mode has no broker, no worker and no ``celery beat``, yet backups, metric sampling and
the routing housekeeping must still happen. ``start_embedded_scheduler()`` starts one daemon
thread that, every second, runs the enabled ``PeriodicTask`` rows that are due, in this process,
using the same schedules the admin shows (docs/decisions/0042-embedded-scheduler.md).

The embedded server calls it once at start-up. It does nothing unless
``settings.OPS_EMBEDDED_SCHEDULER`` is true (the default only when REDIS_URL is unset) and never
starts twice. Tests call :func:`run_due_tasks` directly instead.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# A crontab job that never ran is treated as last run a day ago, so a daily backup happens on
# the first start of a fresh embedded install instead of waiting for 03:17 UTC.
NEVER_RAN_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class JobRun:
    name: str
    task: str
    ok: bool
    error: str = ""


def _last_run(task: PeriodicTask, now: datetime) -> datetime:
    if task.last_run_at is not None:
        return task.last_run_at
    if task.interval_id is not None:
        return now - timedelta(days=3650)
    return now - NEVER_RAN_LOOKBACK


def _is_due(task: PeriodicTask, now: datetime) -> bool:
    if task.start_time is not None and task.start_time > now:
        return False
    if task.expires is not None and task.expires <= now:
        return False
    schedule = task.schedule
    schedule.nowfun = lambda: now
    due, _next = schedule.is_due(_last_run(task, now))
    return bool(due)


def run_due_tasks(*, now: datetime | None = None) -> list[JobRun]:
    """Run every enabled periodic task that is due at ``now``, eagerly, one after another.
    A failing job is logged and recorded as run (it retries at its next slot), so one broken
    job cannot block the others or spin."""
    from mmo_platform.celery import app

    now = now or timezone.now()
    _import_task_modules(app)
    runs: list[JobRun] = []
    for periodic in PeriodicTask.objects.filter(enabled=True).order_by("pk"):
        if not _is_due(periodic, now):
            continue
        runs.append(_run_one(app, periodic, now))
    return runs


_task_modules_imported = False


def _import_task_modules(app: Any) -> None:
    """Register every task module once per process. Celery re-walks every installed app on
    each call (12 ms of CPU, with the GIL: the embedded world's loop stalled that long every
    poll)."""
    global _task_modules_imported
    if not _task_modules_imported:
        app.loader.import_default_modules()
        _task_modules_imported = True


def _run_one(app: Any, periodic: PeriodicTask, now: datetime) -> JobRun:
    # Record the run first: a crash inside the job must not make it due again every second.
    PeriodicTask.objects.filter(pk=periodic.pk).update(
        last_run_at=now, total_run_count=F("total_run_count") + 1
    )
    if periodic.one_off:
        PeriodicTask.objects.filter(pk=periodic.pk).update(enabled=False)
    task = app.tasks.get(periodic.task)
    if task is None:
        logger.error("scheduled task %s (%s) is not registered", periodic.name, periodic.task)
        return JobRun(periodic.name, periodic.task, ok=False, error="not registered")
    try:
        args = json.loads(periodic.args or "[]")
        kwargs = json.loads(periodic.kwargs or "{}")
        # throw=False: eager apply() re-runs the task's retries only when it does not propagate.
        result = task.apply(args=args, kwargs=kwargs, throw=False)
    except Exception as exc:
        # A retry chain that fails again propagates out of eager apply(): same outcome.
        logger.exception("scheduled task %s failed", periodic.name)
        return JobRun(periodic.name, periodic.task, ok=False, error=str(exc)[:500])
    if result.failed():
        logger.error("scheduled task %s failed: %r", periodic.name, result.result)
        return JobRun(periodic.name, periodic.task, ok=False, error=repr(result.result)[:500])
    return JobRun(periodic.name, periodic.task, ok=True)


class EmbeddedScheduler(threading.Thread):
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(name="ops-embedded-scheduler", daemon=True)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        logger.info("embedded scheduler started")
        while not self.stopping.wait(self.poll_seconds):
            close_old_connections()
            try:
                run_due_tasks()
            except Exception:
                # Database locked or migrating: try again at the next poll.
                logger.exception("embedded scheduler pass failed")
            finally:
                close_old_connections()
        logger.info("embedded scheduler stopped")

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.join(timeout)


_scheduler: EmbeddedScheduler | None = None
_scheduler_lock = threading.Lock()


def start_embedded_scheduler(*, force: bool = False) -> EmbeddedScheduler | None:
    """Start the scheduler thread once. Returns it, or None when disabled by settings
    (production, where ``celery beat`` does this job). ``force`` ignores the setting."""
    global _scheduler
    if not (force or settings.OPS_EMBEDDED_SCHEDULER):
        return None
    with _scheduler_lock:
        if _scheduler is None or not _scheduler.is_alive():
            _scheduler = EmbeddedScheduler()
            _scheduler.start()
        return _scheduler


def stop_embedded_scheduler() -> None:
    global _scheduler
    with _scheduler_lock:
        scheduler, _scheduler = _scheduler, None
    if scheduler is not None:
        scheduler.stop()
