"""/metrics: the listed families, access control, per-process serving and multiprocess mode."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from mmo_platform import metrics
from tests.ops.conftest import metric_value

ROOT = Path(__file__).resolve().parents[2]
# Issue 5 point 3, as exposed names (counters gain _total, histograms _bucket/_sum/_count).
LISTED_FAMILIES = {
    "mmo_players_online": "gauge",
    "mmo_ws_connections": "gauge",
    "mmo_tick_duration_seconds": "histogram",
    "mmo_tick_overruns_total": "counter",
    "mmo_frames_out_total": "counter",
    "mmo_bytes_out_total": "counter",
    "mmo_rtt_seconds": "histogram",
    "mmo_gc_pause_seconds": "histogram",
    "mmo_intents_rejected_total": "counter",
    "mmo_chat_messages_total": "counter",
    "mmo_economy_transactions_total": "counter",
    "mmo_economy_failures_total": "counter",
    "mmo_economy_reconciliation_mismatches": "gauge",
    "mmo_celery_queue_depth": "gauge",
    "mmo_celery_task_failures_total": "counter",
    "mmo_db_query_duration_seconds": "histogram",
    "mmo_backup_age_seconds": "gauge",
    "mmo_backup_last_success_timestamp_seconds": "gauge",
    "mmo_restore_verify_ok": "gauge",
    "mmo_shard_heartbeat_age_seconds": "gauge",
    "mmo_log_errors_total": "counter",
    "django_http_requests_latency_including_middlewares_seconds": "histogram",
    "django_http_responses_total_by_status_total": "counter",
}


def scrape(client: Client, **extra: Any) -> tuple[int, str]:
    response = client.get("/metrics", **extra)
    return response.status_code, response.content.decode()


@pytest.mark.django_db
def test_metrics_expose_every_listed_family(client: Client) -> None:
    client.get("/healthz")  # one request through the django-prometheus middleware
    status, body = scrape(client)
    assert status == 200
    declared = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.MULTILINE))
    missing = {name for name in LISTED_FAMILIES if name not in declared}
    assert not missing
    wrong_type = {n: declared[n] for n, kind in LISTED_FAMILIES.items() if declared[n] != kind}
    assert not wrong_type


@pytest.mark.django_db
def test_recorded_world_values_appear_in_the_scrape(client: Client) -> None:
    metrics.PLAYERS_ONLINE.labels(realm="Eldoria", shard="eldoria-1", zone="town").set(42)
    metrics.INTENTS_REJECTED.labels(reason="too_fast").inc()
    _, body = scrape(client)
    assert 'mmo_players_online{realm="Eldoria",shard="eldoria-1",zone="town"} 42.0' in body
    assert re.search(r'mmo_intents_rejected_total\{reason="too_fast"\} [1-9]', body)


@pytest.mark.django_db
def test_db_queries_are_timed() -> None:
    vendor = connection.vendor
    before = metric_value("mmo_db_query_duration_seconds_count", alias="default", vendor=vendor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    after = metric_value("mmo_db_query_duration_seconds_count", alias="default", vendor=vendor)
    assert after >= before + 1
    # Installing twice (signal sent again) does not double-count.
    metrics.install_db_query_timer(connection)
    timers = [w for w in connection.execute_wrappers if getattr(w, "mmo_db_query_timer", False)]
    assert len(timers) == 1


def test_tick_timer_counts_overruns() -> None:
    before = metric_value("mmo_tick_overruns_total", shard="timer-test")
    with metrics.time_tick("timer-test", budget_seconds=10):
        pass
    with metrics.time_tick("timer-test", budget_seconds=0):
        pass
    assert metric_value("mmo_tick_overruns_total", shard="timer-test") == before + 1
    assert metric_value("mmo_tick_duration_seconds_count", shard="timer-test") >= 2


# --- access control ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_metrics_refuse_other_addresses(client: Client) -> None:
    status, body = scrape(client, REMOTE_ADDR="203.0.113.9")
    assert status == 403
    assert "mmo_" not in body


@pytest.mark.django_db
def test_metrics_refuse_proxied_requests_even_from_loopback(client: Client) -> None:
    status, _ = scrape(client, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert status == 403


@pytest.mark.django_db
def test_metrics_accept_an_allowed_network(client: Client, settings: Any) -> None:
    settings.METRICS_ALLOWED_CIDRS = ["10.0.0.0/8", "not-a-network"]
    assert scrape(client, REMOTE_ADDR="10.1.2.3")[0] == 200
    assert scrape(client, REMOTE_ADDR="127.0.0.1")[0] == 403
    assert scrape(client, REMOTE_ADDR="garbage")[0] == 403


@pytest.mark.django_db
def test_metrics_bearer_token(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    remote = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-token", **remote)[0] == 200
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong", **remote)[0] == 403
    # A wrong token is refused even from loopback: a presented credential must be right.
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong")[0] == 403
    assert scrape(client, **remote)[0] == 403


# --- per-process serving (shards, Celery worker) -------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_serve_for_process_serves_this_process() -> None:
    port = _free_port()
    metrics.FRAMES_OUT.labels(shard="served").inc(3)
    metrics.metrics_serve_for_process(port)
    try:
        metrics.metrics_serve_for_process(port)  # second call: no-op, no "address in use"
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
    finally:
        metrics.metrics_stop_serving(port)
    assert 'mmo_frames_out_total{shard="served"}' in body


MULTIPROCESS_WRITER = """
import os, sys
from mmo_platform import metrics
metrics.FRAMES_OUT.labels(shard="mp").inc(int(sys.argv[1]))
metrics.WS_CONNECTIONS.labels(kind="gateway").set(int(sys.argv[1]))
print(os.getpid())
"""
MULTIPROCESS_MARK_DEAD = """
import sys
from mmo_platform import metrics
metrics.metrics_mark_process_dead(int(sys.argv[1]))
"""
MULTIPROCESS_READER = """
from mmo_platform import metrics
body, _ = metrics.metrics_render()
print(body.decode())
"""


def test_multiprocess_mode_aggregates_processes(tmp_path: Path) -> None:
    # Two worker processes write; a third scrapes the shared directory (PROMETHEUS_MULTIPROC_DIR
    # is set before Python starts, as the Procfile does).
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    first_pid = run(MULTIPROCESS_WRITER, "5").strip()
    run(MULTIPROCESS_WRITER, "7")
    body = run(MULTIPROCESS_READER)
    assert 'mmo_frames_out_total{shard="mp"} 12.0' in body
    assert 'mmo_ws_connections{kind="gateway"} 12.0' in body
    # A dead process's live gauges leave the sum once it is marked dead (Celery child exit);
    # its counters stay, as counters must.
    run(MULTIPROCESS_MARK_DEAD, first_pid)
    body = run(MULTIPROCESS_READER)
    assert 'mmo_ws_connections{kind="gateway"} 7.0' in body
    assert 'mmo_frames_out_total{shard="mp"} 12.0' in body
