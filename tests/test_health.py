"""/healthz says the process is alive; /readyz says whether the database, cache and channel
layer answer, and reports a failing dependency as failing (HTTP 503)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from mmo_platform import health

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_without_touching_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "get_channel_layer", _broken_layer)
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["process"]["status"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_readyz_reports_each_dependency() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "channel_layer"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert "error" not in check
        assert check["time_ms"] >= 0


def test_readyz_answers_json_even_to_browsers() -> None:
    response = Client().get("/readyz", HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json"


def _broken_layer(alias: str = "default") -> Any:
    class BrokenLayer:
        async def send(self, channel: str, message: dict) -> None:
            raise ConnectionError("redis is down")

        async def receive(self, channel: str) -> dict:
            raise AssertionError("not reached")

    return BrokenLayer()


def test_readyz_reports_a_failing_channel_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "get_channel_layer", _broken_layer)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["channel_layer"]["status"] == "failing"
    assert "Connection error" in body["checks"]["channel_layer"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"


def test_readyz_reports_a_channel_layer_that_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    class SilentLayer:
        async def send(self, channel: str, message: dict) -> None:
            return None

        async def receive(self, channel: str) -> dict:
            raise TimeoutError  # what asyncio.wait_for raises when nothing arrives

    monkeypatch.setattr(health, "get_channel_layer", lambda alias="default": SilentLayer())
    body = Client().get("/readyz").json()
    assert body["checks"]["channel_layer"]["status"] == "failing"


def test_readyz_reports_a_missing_channel_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "get_channel_layer", lambda alias="default": None)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert "No channel layer" in response.json()["checks"]["channel_layer"]["error"]


def test_readyz_reports_a_failing_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import caches

    cache_class = type(caches["default"])

    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("cache is down")

    monkeypatch.setattr(cache_class, "aset", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["cache"]["status"] == "failing"
    assert body["checks"]["database"]["status"] == "ok"


def test_readyz_reports_a_failing_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connections

    wrapper_class = type(connections["default"])

    def refuse(self: Any) -> Any:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(wrapper_class, "temporary_connection", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["status"] == "failing"
    assert "Unavailable" in body["checks"]["database"]["error"]
    assert body["checks"]["cache"]["status"] == "ok"
