"""Celery application. In embedded mode (no REDIS_URL) tasks run eagerly in the caller."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmo_platform.settings.embedded")

app = Celery("mmo_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
