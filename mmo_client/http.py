"""REST side of the client: log in, manage characters, join the world."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx


class PlatformError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


@dataclass(frozen=True)
class JoinTicket:
    ticket: str
    ws_url: str
    shard: str


class PlatformAPI:
    """One player's session against the platform's HTTP API."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=30)
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def login(self, login: str, password: str) -> None:
        field = "email" if "@" in login else "username"
        body = await self._call(
            "POST", "/_allauth/app/v1/auth/login", json={field: login, "password": password}
        )
        meta = body.get("meta", {})
        self.access_token, self.refresh_token = meta["access_token"], meta.get("refresh_token")

    async def signup(self, username: str, email: str, password: str) -> None:
        await self._call(
            "POST",
            "/_allauth/app/v1/auth/signup",
            json={"username": username, "email": email, "password": password},
            ok=(200, 401),
        )

    async def characters(self) -> list[dict[str, Any]]:
        body = await self._call("GET", "/api/v1/characters")
        return list(body["results"] if isinstance(body, dict) else body)

    async def realms(self) -> list[dict[str, Any]]:
        body = await self._call("GET", "/api/v1/realms")
        return list(body["results"] if isinstance(body, dict) else body)

    async def create_character(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = await self._call(
            "POST", "/api/v1/characters/create", json=fields, ok=(201,)
        )
        return body

    async def join(self, character_id: int, *, poll_seconds: float = 1.0) -> JoinTicket:
        """Ask to enter the world, waiting in the login queue if the realm is full."""
        while True:
            body = await self._call("POST", f"/api/v1/characters/{character_id}/join")
            if body.get("status") == "ready":
                return JoinTicket(body["ticket"], body["ws_url"], body["shard"])
            await asyncio.sleep(poll_seconds)

    def ws_url(self, ticket: JoinTicket) -> str:
        if ticket.ws_url.startswith(("ws://", "wss://")):
            return ticket.ws_url
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        host = self.base_url.split("://", 1)[1]
        return f"{scheme}://{host}{ticket.ws_url}"

    async def _call(
        self, method: str, path: str, *, json: Any = None, ok: tuple[int, ...] = (200,)
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        response = await self.http.request(method, path, json=json, headers=headers)
        body = response.json() if response.content else {}
        if response.status_code not in ok:
            raise PlatformError(response.status_code, body)
        return body
