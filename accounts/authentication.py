"""DRF authentication for game clients: allauth's JWT access tokens, refused for accounts that
are suspended or banned (the reason travels in the error)."""

from __future__ import annotations

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import JWTTokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class GameTokenAuthentication(JWTTokenAuthentication):
    def authenticate_credentials(self, key: str) -> Any:
        user_and_payload = super().authenticate_credentials(key)
        user = user_and_payload[0]
        refusal = user.standing_refusal()
        if refusal:
            raise AuthenticationFailed(refusal, code="account_restricted")
        return user_and_payload
