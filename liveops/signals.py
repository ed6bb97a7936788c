"""Signal wiring of operations: DB query timing, Celery task metrics and the worker's metrics
endpoint. Connected once from LiveopsConfig.ready()."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import signals as celery_signals
from django.conf import settings
from django.db.backends.signals import connection_created

from mmo_platform import metrics

logger = logging.getLogger(__name__)


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", sender) or "unknown")


def on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    metrics.CELERY_TASK_FAILURES.labels(task=_task_name(sender)).inc()


def on_task_retry(sender: Any = None, **kwargs: Any) -> None:
    metrics.CELERY_TASK_RETRIES.labels(task=_task_name(sender)).inc()


def on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    """The worker's main process serves the metrics of all its pool children."""
    port = settings.CELERY_METRICS_PORT
    if port:
        metrics.metrics_serve_for_process(port)


_structlog_worker_receiver: Any = None


def on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    """Bind task_id/task name (and the publishing request's request_id) to every log record of a
    task. Only in workers: in eager mode these receivers would clear the web request's ids."""
    global _structlog_worker_receiver
    from django_structlog.celery.receivers import CeleryReceiver

    if _structlog_worker_receiver is None:
        _structlog_worker_receiver = CeleryReceiver()
        _structlog_worker_receiver.connect_worker_signals()


def on_worker_process_shutdown(pid: int | None = None, **kwargs: Any) -> None:
    metrics.metrics_mark_process_dead(pid or os.getpid())


def connect_ops_signals() -> None:
    connection_created.connect(metrics.on_connection_created, dispatch_uid="mmo_db_query_timer")
    celery_signals.task_failure.connect(on_task_failure, dispatch_uid="mmo_task_failure")
    celery_signals.task_retry.connect(on_task_retry, dispatch_uid="mmo_task_retry")
    celery_signals.worker_ready.connect(on_worker_ready, dispatch_uid="mmo_worker_metrics")
    celery_signals.worker_init.connect(on_worker_init, dispatch_uid="mmo_worker_structlog")
    celery_signals.worker_process_shutdown.connect(
        on_worker_process_shutdown, dispatch_uid="mmo_worker_process_dead"
    )
