"""Every Prometheus metric family of the platform, in one place (prometheus-client).

Who records what
----------------
- **World server** (gateway + shard loop; the lead and the sim helper call these):
  ``PLAYERS_ONLINE``, ``WS_CONNECTIONS``, ``TICK_SECONDS``, ``TICK_OVERRUNS``, ``FRAMES_OUT``,
  ``BYTES_OUT``, ``RTT_SECONDS``, ``INTENTS_REJECTED``. A shard process started on its own calls
  :func:`metrics_serve_for_process` once at start-up so Prometheus can scrape it
  (docs/decisions/0040-metrics-per-process.md).
- **Chat / economy services**: ``CHAT_MESSAGES`` and ``CHAT_HISTORY_DROPPED`` (shard runtime,
  worlds/runtime/chat_history.py), ``ECONOMY_TRANSACTIONS``, ``ECONOMY_FAILURES``,
  ``RECONCILIATION_MISMATCHES`` (+ ``RECONCILIATION_LAST_RUN_TIMESTAMP``).
- **Ops tasks** (liveops/tasks.py): Celery queue depth, task failures/retries, backup age, restore
  verification, shard heartbeat ages, shard-reported population.
- **Every process**: ``DB_QUERY_SECONDS`` (Django's execute-wrapper hook, see
  :func:`install_db_query_timer`), ``LOG_ERRORS`` (a logging handler counts ERROR records).
  HTTP request metrics come from django-prometheus's middleware (``django_http_*``).

Label values must have bounded cardinality: a shard's name, a zone id, a rejection reason or a
channel *kind* — never a character id or a chat channel id.

Conventions: ``shard`` = the shard's unique name (``worlds.Shard.name``), ``realm`` = the realm's
name, ``zone`` = the zone id from content/.

Multiprocess
------------
When ``PROMETHEUS_MULTIPROC_DIR`` is set *before Python starts* (start script / Procfile; wipe the
directory at every start), prometheus-client writes every value to mmap files there and
:func:`metrics_registry_for_scrape` aggregates them, so several ASGI workers or Celery prefork
children show up as one target. Gauges therefore declare a ``multiprocess_mode``. Without the
variable, the single-process default registry is used (embedded mode, tests).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

# --- World: players and connections ------------------------------------------------------------
PLAYERS_ONLINE = Gauge(
    "mmo_players_online",
    "Characters currently in the world, set by the shard that simulates the zone.",
    ["realm", "shard", "zone"],
    multiprocess_mode="livesum",
)
WS_CONNECTIONS = Gauge(
    "mmo_ws_connections",
    "Open WebSocket connections held by this process (kind: gateway, chat, embedded).",
    ["kind"],
    multiprocess_mode="livesum",
)

# --- World: simulation loop ---------------------------------------------------------------------
# Buckets resolve the 50 ms budget of a 20 Hz tick finely around the budget, coarsely beyond it.
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)
TICK_SECONDS = Histogram(
    "mmo_tick_duration_seconds",
    "Wall time of one simulation tick of a shard (simulate + build frames).",
    ["shard"],
    buckets=TICK_BUCKETS,
)
TICK_OVERRUNS = Counter(
    "mmo_tick_overruns",
    "Ticks that took longer than the tick budget (1 / WORLD_TICK_HZ).",
    ["shard"],
)
FRAMES_OUT = Counter(
    "mmo_frames_out",
    "State frames sent to clients (at most one coalesced frame per client per tick).",
    ["shard"],
)
BYTES_OUT = Counter(
    "mmo_bytes_out",
    "Bytes of state frames sent to clients.",
    ["shard"],
)
GC_PAUSE_SECONDS = Histogram(
    "mmo_gc_pause_seconds",
    "Pauses of CPython's cyclic garbage collector in a server process (the event loop stops).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
)
RTT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
RTT_SECONDS = Histogram(
    "mmo_rtt_seconds",
    "Client round-trip time measured by the gateway's ping/pong.",
    buckets=RTT_BUCKETS,
)
INTENTS_REJECTED = Counter(
    "mmo_intents_rejected",
    "Client intents refused by server-side validation, by reason (e.g. too_fast, out_of_range).",
    ["reason"],
)

# --- Chat and economy ---------------------------------------------------------------------------
CHAT_MESSAGES = Counter(
    "mmo_chat_messages",
    "Chat messages accepted, by channel kind (say, zone, guild, party, whisper, ...).",
    ["channel"],
)
CHAT_HISTORY_DROPPED = Counter(
    "mmo_chat_history_dropped",
    "Chat lines a shard dropped unwritten because its history buffer was full (database down).",
    ["shard"],
)
ECONOMY_TRANSACTIONS = Counter(
    "mmo_economy_transactions",
    "Committed economy transactions, by kind (purchase, trade, mail, grant, ...).",
    ["kind"],
)
ECONOMY_FAILURES = Counter(
    "mmo_economy_failures",
    "Economy operations refused or rolled back, by kind and reason (insufficient_funds, ...).",
    ["kind", "reason"],
)
RECONCILIATION_MISMATCHES = Gauge(
    "mmo_economy_reconciliation_mismatches",
    "Wallets/inventories whose balance disagrees with the ledger at the last reconciliation.",
    multiprocess_mode="mostrecent",
)
RECONCILIATION_LAST_RUN_TIMESTAMP = Gauge(
    "mmo_economy_reconciliation_last_run_timestamp_seconds",
    "Unix time the last economy reconciliation finished.",
    multiprocess_mode="mostrecent",
)

# --- Celery -------------------------------------------------------------------------------------
CELERY_QUEUE_DEPTH = Gauge(
    "mmo_celery_queue_depth",
    "Messages waiting in a Celery queue (Redis LLEN), sampled by liveops.tasks.sample_metrics.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
CELERY_TASK_FAILURES = Counter(
    "mmo_celery_task_failures",
    "Celery tasks that failed for good (after their retries), by task name.",
    ["task"],
)
CELERY_TASK_RETRIES = Counter(
    "mmo_celery_task_retries",
    "Celery task retries scheduled, by task name.",
    ["task"],
)

# --- Database -----------------------------------------------------------------------------------
DB_QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DB_QUERY_SECONDS = Histogram(
    "mmo_db_query_duration_seconds",
    "Duration of SQL statements executed through Django, by connection alias and vendor.",
    ["alias", "vendor"],
    buckets=DB_QUERY_BUCKETS,
)

# --- Backups and restore verification -----------------------------------------------------------
BACKUP_AGE_SECONDS = Gauge(
    "mmo_backup_age_seconds",
    "Seconds since the newest successful backup was taken (sampled).",
    multiprocess_mode="mostrecent",
)
BACKUP_LAST_SUCCESS_TIMESTAMP = Gauge(
    "mmo_backup_last_success_timestamp_seconds",
    "Unix time of the newest successful backup.",
    multiprocess_mode="mostrecent",
)
BACKUP_FAILURES = Counter(
    "mmo_backup_failures",
    "Backup attempts that failed.",
)
RESTORE_VERIFY_OK = Gauge(
    "mmo_restore_verify_ok",
    "1 if the last restore verification of the newest backup matched its manifest, else 0.",
    multiprocess_mode="mostrecent",
)
RESTORE_VERIFY_LAST_RUN_TIMESTAMP = Gauge(
    "mmo_restore_verify_last_run_timestamp_seconds",
    "Unix time the last restore verification finished (pass or fail).",
    multiprocess_mode="mostrecent",
)

# --- Shards as seen by the control plane (database heartbeats) ----------------------------------
SHARD_HEARTBEAT_AGE_SECONDS = Gauge(
    "mmo_shard_heartbeat_age_seconds",
    "Seconds since a shard's last heartbeat row update (sampled from the database).",
    ["shard"],
    multiprocess_mode="mostrecent",
)
SHARD_REPORTED_POPULATION = Gauge(
    "mmo_shard_reported_population",
    "Population a shard reported with its last heartbeat (control-plane view).",
    ["realm", "shard"],
    multiprocess_mode="mostrecent",
)
SHARD_STATUS = Gauge(
    "mmo_shard_status",
    "1 for a shard's current status in the database (online, draining, maintenance, offline), "
    "0 for the others.",
    ["shard", "status"],
    multiprocess_mode="mostrecent",
)
SHARDS_MARKED_STALE = Counter(
    "mmo_shards_marked_stale",
    "Shards the stale-shard detector marked offline because their heartbeat stopped.",
)

# --- Errors -------------------------------------------------------------------------------------
LOG_ERRORS = Counter(
    "mmo_log_errors",
    "Log records at ERROR or above, by top-level logger (counted in every process).",
    ["logger"],
)


# --- Exposition ---------------------------------------------------------------------------------
def metrics_multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def metrics_registry_for_scrape() -> CollectorRegistry:
    """The registry a scrape should read: an aggregate of all processes' files in multiprocess
    mode, otherwise this process's default registry."""
    if not metrics_multiprocess_enabled():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_render() -> tuple[bytes, str]:
    """The Prometheus text exposition of this process (or process group) and its content type."""
    return generate_latest(metrics_registry_for_scrape()), CONTENT_TYPE_LATEST


_served_ports: dict[int, Any] = {}
_serve_lock = threading.Lock()


def metrics_serve_for_process(port: int, addr: str | None = None) -> None:
    """Serve this process's metrics on ``http://addr:port/metrics`` from a daemon thread.

    For processes that do not run Django's HTTP stack: each shard process (``runshard``) and the
    Celery worker. Call once at start-up; a second call for the same port is a no-op. ``addr``
    defaults to the ``METRICS_BIND_ADDRESS`` environment variable, else 127.0.0.1 — bind wider
    only on a private network the Prometheus server can reach. Raises OSError if the port is taken.
    """
    bind = addr or os.environ.get("METRICS_BIND_ADDRESS", "127.0.0.1")
    with _serve_lock:
        if port in _served_ports:
            return
        server, _thread = start_http_server(port, addr=bind, registry=metrics_registry_for_scrape())
        _served_ports[port] = server
    logging.getLogger(__name__).info("metrics served on %s:%s", bind, port)


def metrics_stop_serving(port: int) -> None:
    """Stop a server started by :func:`metrics_serve_for_process` (tests, graceful shutdown)."""
    with _serve_lock:
        server = _served_ports.pop(port, None)
    if server is not None:
        server.shutdown()
        server.server_close()


def metrics_mark_process_dead(pid: int) -> None:
    """Drop a dead process's live gauges from the multiprocess directory (Celery child exit)."""
    if metrics_multiprocess_enabled():
        multiprocess.mark_process_dead(pid)


# --- Database query timing ----------------------------------------------------------------------
def _db_query_timer(alias: str, vendor: str) -> Any:
    histogram = DB_QUERY_SECONDS.labels(alias=alias, vendor=vendor)

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            histogram.observe(time.perf_counter() - started)

    wrapper.mmo_db_query_timer = True  # type: ignore[attr-defined]
    return wrapper


def install_db_query_timer(connection: Any) -> None:
    """Time every statement on ``connection`` (connected to ``connection_created``).

    Django's documented execute-wrapper hook keeps the database ENGINE untouched; django-prometheus
    would need its own ENGINE classes for the same figure (docs/decisions/0040-...).
    """
    wrappers = connection.execute_wrappers
    if not any(getattr(w, "mmo_db_query_timer", False) for w in wrappers):
        wrappers.append(_db_query_timer(connection.alias, connection.vendor))


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    install_db_query_timer(connection)


# --- Small helpers for callers ------------------------------------------------------------------
@contextmanager
def time_tick(shard: str, budget_seconds: float) -> Iterator[None]:
    """Observe one tick's duration and count an overrun when it exceeds ``budget_seconds``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        TICK_SECONDS.labels(shard=shard).observe(elapsed)
        if elapsed > budget_seconds:
            TICK_OVERRUNS.labels(shard=shard).inc()


def metric_family_names(registry: CollectorRegistry = REGISTRY) -> set[str]:
    """Every sample name the registry can expose, suffixes included (``_total``, ``_bucket``,
    ``_count``, ``_sum``, ``_created``) — used to check alert rules against real metrics."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gauge": ("",),
        "info": ("_info",),
        "stateset": ("",),
        "enum": ("",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "unknown": ("",),
    }
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names
