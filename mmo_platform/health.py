"""Liveness and readiness probes.

- ``/healthz``: the process is up and serving requests. It checks no dependency, so an
  orchestrator never restarts a healthy process because the database blinked.
- ``/readyz``: this process can do its job: the database, the cache and the channel layer all
  answer. A load balancer stops routing to a process that is not ready.

Both answer JSON ``{"status": "ok"|"failing", "checks": {name: {"status", "error"?,
"time_ms"}}}`` with HTTP 200 or 503. The checks are django-health-check's (Database, Cache)
plus our channel-layer round trip; its own view is reused for the plumbing (async gather,
timeouts, never-cache headers), but its JSON body (``{"Cache(alias='default')": "OK"}``, HTTP
500 on failure) is replaced by the per-check shape above.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Mapping
from typing import Any

from channels.layers import get_channel_layer
from django.http import HttpRequest, JsonResponse
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceReturnedUnexpectedResult, ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class ChannelLayer(HealthCheck):
    """Send one message to a fresh channel and read it back."""

    alias: str = "default"

    async def run(self) -> None:
        layer = get_channel_layer(self.alias)
        if layer is None:
            raise ServiceUnavailable("No channel layer configured")
        nonce = secrets.token_hex(8)
        channel = f"health.probe.{nonce}"
        try:
            await layer.send(channel, {"type": "health.probe", "nonce": nonce})
            message = await asyncio.wait_for(layer.receive(channel), timeout=3)
        except TimeoutError as error:
            raise ServiceUnavailable("No answer within 3 seconds") from error
        except OSError as error:  # redis-py connection errors subclass ConnectionError
            raise ServiceUnavailable("Connection error") from error
        if message.get("nonce") != nonce:
            raise ServiceReturnedUnexpectedResult("Probe message came back altered")


@dataclasses.dataclass
class ProcessAlive(HealthCheck):
    """Liveness only: answering at all is the proof."""

    async def run(self) -> None:
        return None


LIVENESS_CHECKS: Mapping[str, type[HealthCheck]] = {"process": ProcessAlive}
READINESS_CHECKS: Mapping[str, type[HealthCheck]] = {
    "database": Database,
    "cache": Cache,
    "channel_layer": ChannelLayer,
}


class ProbeView(HealthCheckView):
    named_checks: Mapping[str, type[HealthCheck]] = {}

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        names = list(self.named_checks)
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(self.named_checks[name]().get_result(executor) for name in names)
            )
        checks: dict[str, dict[str, Any]] = {}
        for name, result in zip(names, results, strict=True):
            entry: dict[str, Any] = {
                "status": "failing" if result.error else "ok",
                "time_ms": round(result.time_taken * 1000, 1),
            }
            if result.error:
                entry["error"] = str(result.error)
            checks[name] = entry
        failing = any(entry["status"] == "failing" for entry in checks.values())
        body = {"status": "failing" if failing else "ok", "checks": checks}
        return JsonResponse(body, status=503 if failing else 200)


healthz = ProbeView.as_view(named_checks=LIVENESS_CHECKS)
readyz = ProbeView.as_view(named_checks=READINESS_CHECKS)
