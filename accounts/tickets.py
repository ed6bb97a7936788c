"""Short-lived, single-use tickets (WebSocket auth, world entry).

A ticket is a random string handed to the client over an authenticated HTTPS call; the socket
presents it once. Only its SHA-256 is stored, so a cache dump reveals no usable ticket.
Consumption is atomic: Redis ``GETDEL`` in production, a process lock for the local-memory cache
(embedded mode has one process). Tokens never travel in URLs that end up in access logs: clients
send the ticket in the first WebSocket frame.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache

_local_consume_lock = threading.Lock()


def _cache_key(purpose: str, ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode()).hexdigest()
    return f"ticket:{purpose}:{digest}"


def ticket_issue(*, purpose: str, payload: dict[str, Any], ttl_seconds: int | None = None) -> str:
    """Store ``payload`` under a new ticket for ``purpose``; return the ticket."""
    ticket = secrets.token_urlsafe(32)
    ttl = ttl_seconds or settings.WS_TICKET_TTL_SECONDS
    cache.set(_cache_key(purpose, ticket), orjson.dumps(payload).decode(), timeout=ttl)
    return ticket


def ticket_consume(*, purpose: str, ticket: str) -> dict[str, Any] | None:
    """Return the payload and invalidate the ticket; None if unknown, expired or already used."""
    if not isinstance(ticket, str) or not 20 <= len(ticket) <= 128:
        return None
    key = _cache_key(purpose, ticket)
    raw = _getdel(key)
    if raw is None:
        return None
    payload: dict[str, Any] = orjson.loads(raw)
    return payload


def _getdel(key: str) -> str | bytes | None:
    redis_cache = getattr(cache, "_cache", None)
    get_client = getattr(redis_cache, "get_client", None)
    if get_client is not None:  # django.core.cache.backends.redis.RedisCache
        full_key = cache.make_key(key)
        raw = get_client(full_key, write=True).getdel(full_key)
        if raw is None:
            return None
        # RedisCache pickles values it stores; strings are stored pickled.
        value: str = redis_cache._serializer.loads(raw)  # type: ignore[union-attr]
        return value
    with _local_consume_lock:
        value = cache.get(key)
        if value is not None:
            cache.delete(key)
        return value
