"""Suite-wide fixtures and the services policy.

With ``MMO_REQUIRE_SERVICES=1`` (set by .ci/run) the run fails at once unless the database is
PostgreSQL and Redis answers; tests marked ``postgres``/``redis`` then always run. Without it, a
developer on SQLite still runs everything else and sees those tests skipped with the reason.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("MMO_REQUIRE_SERVICES") == "1"


def redis_available() -> bool:
    import redis

    url = settings.REDIS_URL or os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    if not REQUIRE_SERVICES:
        return
    problems = []
    if not settings.USING_POSTGRES:
        problems.append("DATABASE_URL must point at PostgreSQL")
    if not settings.REDIS_URL or not redis_available():
        problems.append("REDIS_URL must point at a Redis server that answers")
    if problems:
        pytest.exit("MMO_REQUIRE_SERVICES=1 but " + "; ".join(problems), returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REQUIRE_SERVICES:
        return
    no_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI always does)")
    no_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL (CI always does)")
    have_redis = redis_available()
    for item in items:
        if "postgres" in item.keywords and not settings.USING_POSTGRES:
            item.add_marker(no_pg)
        if "redis" in item.keywords and not have_redis:
            item.add_marker(no_redis)


@pytest.fixture(autouse=True)
def _isolated_cache() -> None:
    """Rate-limit counters and tickets live in the cache: start every test with it empty."""
    from django.core.cache import cache

    cache.clear()
