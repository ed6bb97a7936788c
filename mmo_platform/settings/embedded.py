"""Embedded default: no services needed. SQLite, in-process channel layer, eager Celery,
the world loop inside the ASGI process. Selected by manage.py when nothing else is set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
