"""Structured logging (structlog + django-structlog).

- ``LOG_FORMAT=json`` (production default): one JSON object per line with ``timestamp``,
  ``level``, ``logger``, ``event`` and every bound id: ``request_id`` (django-structlog's
  middleware, also copied into Celery tasks), ``connection_id``/``character_id``/``shard`` (the
  gateway calls :func:`bind_connection`), ``task_id`` (Celery).
- ``LOG_FORMAT=console`` (embedded default): readable coloured lines.

Plain ``logging.getLogger(__name__)`` calls go through the same formatter, so every library's
records come out in the same format with the same bound ids. ERROR records are also counted in
``mmo_log_errors_total`` (see :class:`ErrorCountingHandler`).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def _renderer(log_format: str) -> Any:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def build_logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dict for settings. ``log_format`` is ``json`` or ``console``."""
    if log_format not in {"json", "console"}:
        raise ValueError(f"LOG_FORMAT must be json or console, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _renderer(log_format),
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
            "error_counter": {
                "class": "mmo_platform.logging.ErrorCountingHandler",
                "level": "ERROR",
            },
        },
        "root": {"handlers": ["console", "error_counter"], "level": level},
        "loggers": {
            "daphne": {"level": "WARNING"},
            "django.channels.server": {"level": "WARNING"},
            # One line per request from django-structlog is enough; Django's own duplicates it.
            "django.request": {"level": "ERROR"},
            "django_structlog": {"level": level},
            # dbbackup forces its command logger to DEBUG; its command lines can hold hosts.
            "dbbackup": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """Route structlog loggers through stdlib logging (and thus the formatter above)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind_connection(**ids: Any) -> None:
    """Attach ids to every log record of the current task/context, e.g. in a consumer's
    ``connect()``: ``bind_connection(connection_id=..., character_id=..., shard=...)``.
    ``None`` values are skipped. Each asyncio task has its own context, so one connection's ids
    never leak into another's."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def unbind_connection(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)


class ErrorCountingHandler(logging.Handler):
    """Counts ERROR+ records per top-level logger into ``mmo_log_errors_total``: every process
    kind gets an error-rate metric without touching the code that logs."""

    def emit(self, record: logging.LogRecord) -> None:
        from mmo_platform.metrics import LOG_ERRORS

        LOG_ERRORS.labels(logger=record.name.split(".", 1)[0] or "root").inc()
