"""drf-spectacular: describe the game-client access token in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class GameTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.GameTokenAuthentication"
    name = "gameToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /_allauth/app/v1/auth/login (5 minutes; "
            "renew with POST /_allauth/app/v1/tokens/refresh).",
        }
