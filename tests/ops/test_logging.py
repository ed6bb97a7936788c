"""Structured logs: JSON with bound ids in production, readable lines in embedded mode."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from django.test import Client

from mmo_platform.logging import bind_connection, build_logging_config, unbind_connection
from tests.ops.conftest import metric_value

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def capture_json(tmp_path: Path) -> Iterator[Path]:
    """Route the 'probe' logger through the JSON configuration into a file."""
    config = build_logging_config(log_format="json", level="INFO")
    config["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": str(tmp_path / "log.jsonl"),
        "formatter": "structured",
    }
    config["root"] = {"handlers": [], "level": "WARNING"}
    config["loggers"] = {"probe": {"handlers": ["file"], "level": "INFO", "propagate": False}}
    logging.config.dictConfig(config)
    yield tmp_path / "log.jsonl"
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    structlog.contextvars.clear_contextvars()


def test_json_lines_carry_the_connection_ids(capture_json: Path) -> None:
    bind_connection(connection_id="c-17", character_id=42, shard="eldoria-1", skipped=None)
    logging.getLogger("probe").warning("moved %s tiles", 3)
    structlog.get_logger("probe").info("frame_sent", size=812)
    unbind_connection("connection_id", "character_id", "shard")
    logging.getLogger("probe").warning("after unbind")
    lines = [json.loads(line) for line in capture_json.read_text().splitlines()]
    first, second, third = lines
    assert first["event"] == "moved 3 tiles"
    assert first["level"] == "warning" and first["logger"] == "probe"
    assert first["connection_id"] == "c-17" and first["character_id"] == 42
    assert first["shard"] == "eldoria-1"
    assert "skipped" not in first
    assert "timestamp" in first
    assert second["event"] == "frame_sent" and second["size"] == 812
    assert "connection_id" not in third


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        build_logging_config(log_format="xml", level="INFO")


def test_error_records_are_counted() -> None:
    before = metric_value("mmo_log_errors_total", logger="opsprobe")
    logging.getLogger("opsprobe.sub").error("something broke")
    logging.getLogger("opsprobe").warning("only a warning")
    assert metric_value("mmo_log_errors_total", logger="opsprobe") == before + 1


@pytest.mark.django_db
def test_requests_are_logged_with_a_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="django_structlog"):
        client.get("/healthz")
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    finished = [e for e in events if e.get("event") == "request_finished"]
    assert finished and finished[0].get("request_id")


def _settings_value(module: str, expression: str, **env: str) -> str:
    script = (
        f"import django,os;django.setup();from django.conf import settings as s;print({expression})"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG"}}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_production_logs_json_and_embedded_logs_readable_lines() -> None:
    prod = _settings_value(
        "mmo_platform.settings.production",
        "s.LOG_FORMAT",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    embedded = _settings_value("mmo_platform.settings.embedded", "s.LOG_FORMAT")
    assert (prod, embedded) == ("json", "console")
