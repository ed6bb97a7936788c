"""Shared settings. Every switch between the embedded and the production deployment is an
environment variable read here, so one codebase serves both modes (see docs/architecture.md).

- ``DATABASE_URL`` unset → SQLite file in the repo; set → that database (PostgreSQL in production).
- ``REDIS_URL`` unset → in-process channel layer, local-memory cache, Celery tasks run eagerly;
  set → Redis channel layer, Redis cache and the Celery broker.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ

from mmo_platform.keys import load_or_create_private_key
from mmo_platform.logging import build_logging_config, configure_structlog

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Lets typed generics such as ``admin.ModelAdmin[Model]`` work at run time, not only in mypy.
django_stubs_ext.monkeypatch()

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Marker value: production settings refuse to start while the key still equals it.
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-embedded-mode-only-change-me"
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "mmo_platform.views.csrf_failure"  # JSON for API paths

INSTALLED_APPS = [
    "daphne",
    "mmo_platform.admin_site.GameAdminConfig",  # django.contrib.admin, selection checked
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_structlog",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    "allauth.usersessions",
    # Project apps.
    "accounts",
    "characters",
    "worlds",
    "chat",
    "economy",
    "liveops",
]

MIDDLEWARE = [
    # First and last: django-prometheus times the whole stack (django_http_* metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # process_exception runs from the last middleware up: near the top, this answers (in the
    # API's error shape) only what a view raised and no other middleware handled.
    "mmo_platform.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    # Binds request_id (and, after the view, user_id) to every log record of the request.
    # It must run before AuthenticationMiddleware: placed after it, it evaluates request.user
    # before allauth's token authentication and pins the anonymous user (a 401 on allauth's
    # headless session endpoints).
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "accounts.middleware.AccountStatusMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "mmo_platform.urls"
ASGI_APPLICATION = "mmo_platform.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the world loop's flushes and web requests share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# --- Redis: channel layer, cache, Celery broker -------------------------------------------
REDIS_URL: str | None = env.str("REDIS_URL", default="") or None
EMBEDDED = REDIS_URL is None

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as channels_redis's
            # blocking pop: every idle consumer then dies with TimeoutError. Give it headroom.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": 500}],
                "capacity": 2000,
                "expiry": 30,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="mmo"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Embedded mode has no broker: tasks run in the caller (beat schedules run in-process).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Auth and accounts (django-allauth) ----------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "mmo_platform"

HEADLESS_ONLY = False
HEADLESS_CLIENTS = ("app",)
# allauth's JWTTokenStrategy plus refusing suspended/banned accounts at refresh (with the reason).
HEADLESS_TOKEN_STRATEGY = "accounts.tokens.GameTokenStrategy"
HEADLESS_JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", default="") or load_or_create_private_key(
    BASE_DIR / "var" / "jwt-private.pem"
)
HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = env.int("JWT_ACCESS_TOKEN_SECONDS", default=300)
HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN = env.int("JWT_REFRESH_TOKEN_SECONDS", default=86400)
HEADLESS_JWT_ROTATE_REFRESH_TOKEN = True
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
HEADLESS_SERVE_SPECIFICATION = True
HEADLESS_SPECIFICATION_TEMPLATE_NAME = "headless/spec/redoc_local.html"  # no CDN
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": "/accounts/confirm-email/{key}/",
    "account_reset_password_from_key": "/accounts/password/reset/key/{key}/",
    "account_signup": "/accounts/signup/",
}
USERSESSIONS_TRACK_ACTIVITY = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@mmo-platform.local")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.GameTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mmo_platform.errors.api_exception_handler",
    # The API speaks JSON only: form encodings cannot carry null or nested objects, so a body the
    # schema allows could not be sent in them (other media types get 415).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "token": env.str("THROTTLE_TOKEN", default="30/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mmo_platform API",
    "DESCRIPTION": "Accounts, characters, realms, economy and live-ops API of mmo_platform. "
    "Game-client login and token refresh live under /_allauth/app/v1/ "
    "(see /_allauth/openapi.html).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI and ReDoc assets come from drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the shared error answers (mmo_platform/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mmo_platform.openapi.add_error_responses",
    ],
}

# --- Internationalisation, static -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
SERVESTATIC_USE_FINDERS = True  # embedded mode serves static files without collectstatic

# --- Game platform ------------------------------------------------------------------------------
CONTENT_DIR = BASE_DIR / "content"
VAR_DIR = BASE_DIR / "var"
WS_TICKET_TTL_SECONDS = env.int("WS_TICKET_TTL_SECONDS", default=30)
WORLD_TICK_HZ = env.int("WORLD_TICK_HZ", default=20)
WORLD_FLUSH_INTERVAL_SECONDS = env.float("WORLD_FLUSH_INTERVAL_SECONDS", default=10.0)
# "local": gateways and shards share this process (embedded); "redis": separate processes.
# Empty: local without REDIS_URL, redis with it.
WORLD_TRANSPORT = env.str("WORLD_TRANSPORT", default="")
# Start the in-process shards with the ASGI lifespan (embedded mode only).
WORLD_AUTOSTART = env.bool("WORLD_AUTOSTART", default=True)
WORLD_RECONNECT_GRACE_SECONDS = env.float("WORLD_RECONNECT_GRACE_SECONDS", default=30.0)
WORLD_IDLE_TIMEOUT_SECONDS = env.float("WORLD_IDLE_TIMEOUT_SECONDS", default=15.0)
# Redis transport: a gateway publishes its clients' intents to a shard at most this many ms after
# the first one arrived (or at once when 512 are buffered); 0 = at the end of each loop turn.
WORLD_INTENT_FLUSH_MS = env.float("WORLD_INTENT_FLUSH_MS", default=4.0)
SHARD_HEARTBEAT_TIMEOUT_SECONDS = env.int("SHARD_HEARTBEAT_TIMEOUT_SECONDS", default=15)

# Structured logs (mmo_platform/logging.py): LOG_FORMAT=json in production (one JSON object per
# line with request/connection/character ids), console (readable) in embedded mode.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = build_logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog()

# --- economy ---
ECONOMY_INVENTORY_CAPACITY = env.int("ECONOMY_INVENTORY_CAPACITY", default=30)
ECONOMY_MAIL_EXPIRY_DAYS = env.int("ECONOMY_MAIL_EXPIRY_DAYS", default=30)
ECONOMY_MAIL_MAX_ATTACHMENTS = env.int("ECONOMY_MAIL_MAX_ATTACHMENTS", default=8)
# System accounts (shop revenue, mint, mail escrow) are split into this many rows per currency so
# concurrent purchases do not all queue on one row lock (ADR 0031).
ECONOMY_SYSTEM_WALLET_SHARDS = env.int("ECONOMY_SYSTEM_WALLET_SHARDS", default=8)
ECONOMY_TRADE_MAX_LINES = env.int("ECONOMY_TRADE_MAX_LINES", default=8)
# An active trade untouched for this long is cancelled by economy.tasks.expire_stale_trades.
ECONOMY_TRADE_TIMEOUT_MINUTES = env.int("ECONOMY_TRADE_TIMEOUT_MINUTES", default=15)

# --- chat ---
# Chat history (chat.ChatMessage) older than this is deleted by chat.purge_chat_history (nightly).
CHAT_HISTORY_RETENTION_DAYS = env.int("CHAT_HISTORY_RETENTION_DAYS", default=30)

# --- characters and realms ---
CHARACTERS_PER_REALM = env.int("CHARACTERS_PER_REALM", default=8)
# Soft-deleted characters can be restored for this long, then character_purge_expired frees them.
CHARACTER_RESTORE_DAYS = env.int("CHARACTER_RESTORE_DAYS", default=7)
WORLD_TICKET_TTL_SECONDS = env.int("WORLD_TICKET_TTL_SECONDS", default=30)
# Login queue (ADR 0010): an admitted player must claim the held slot within CLAIM seconds; a
# waiting player who has not polled for ABANDON seconds leaves the line.
LOGIN_QUEUE_CLAIM_SECONDS = env.int("LOGIN_QUEUE_CLAIM_SECONDS", default=60)
LOGIN_QUEUE_ABANDON_SECONDS = env.int("LOGIN_QUEUE_ABANDON_SECONDS", default=120)
LOGIN_QUEUE_POLL_SECONDS = env.int("LOGIN_QUEUE_POLL_SECONDS", default=10)
LOGIN_QUEUE_RATE_WINDOW_SECONDS = env.int("LOGIN_QUEUE_RATE_WINDOW_SECONDS", default=600)

# --- ops (backups, metrics, schedules; issue 5) ---
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=4)
# Every backup younger than this is kept too (a manual one before a deploy, say).
BACKUP_KEEP_RECENT_HOURS = env.int("BACKUP_KEEP_RECENT_HOURS", default=24)
# Apps whose tables a restore verification compares (row counts + checksums).
BACKUP_VERIFY_APPS: list[str] = env.list(
    "BACKUP_VERIFY_APPS", default=["accounts", "characters", "worlds", "chat", "economy", "liveops"]
)
# /metrics: Prometheus usually cannot log in, so it is open to these networks or a bearer token.
METRICS_ALLOWED_CIDRS: list[str] = env.list(
    "METRICS_ALLOWED_CIDRS", default=["127.0.0.1/32", "::1/128"]
)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The Celery worker serves its metrics on this port (liveops/signals.py); 0 disables it.
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
# Metric endpoints the dashboard sampler reads (gateway /metrics, each shard's port). Empty: read
# this process's registry (embedded mode, where everything runs in one process).
OPS_METRICS_TARGETS: list[str] = env.list("OPS_METRICS_TARGETS", default=[])
OPS_SAMPLE_RETENTION_HOURS = env.int("OPS_SAMPLE_RETENTION_HOURS", default=24)
# Embedded mode runs due django-celery-beat schedules in-process (liveops/scheduler.py).
OPS_EMBEDDED_SCHEDULER = env.bool("OPS_EMBEDDED_SCHEDULER", default=EMBEDDED)
# Celery writes its logs through our LOGGING (JSON in production) instead of its own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
DJANGO_STRUCTLOG_CELERY_ENABLED = True
