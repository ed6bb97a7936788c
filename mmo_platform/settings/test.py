"""Test settings: the environment still decides SQLite vs PostgreSQL and in-process vs Redis, so
`make test` runs the suite on whatever CI provides (see tests/conftest.py)."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
# Keep throttles out of unrelated tests; throttle tests override these explicitly.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "token": "100000/min"},
}
WORLD_AUTOSTART = False
OPS_EMBEDDED_SCHEDULER = False  # tests run schedules explicitly
