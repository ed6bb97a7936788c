"""Production: PostgreSQL, Redis, separate gateway / shard / Celery processes.

Refuses to start with the embedded defaults that are unsafe on a public host."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSECURE_DEFAULT_SECRET_KEY, SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    raise ImproperlyConfigured("Production settings refuse DEBUG=True.")
if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "Production settings need SECRET_KEY set to a random value of at least 50 characters."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# --- ops: JSON logs by default in production (mmo_platform/logging.py) ---
from mmo_platform.logging import build_logging_config  # noqa: E402

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = build_logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
