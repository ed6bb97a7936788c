"""DRF authentication for game clients: allauth's JWT access tokens, refused for accounts that
are suspended or banned (403 ``account_restricted`` with the reason the player is shown)."""

from __future__ import annotations

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import JWTTokenAuthentication
from rest_framework import exceptions

from accounts.tokens import token_standing_refusal


class AccountRestrictedFailure(exceptions.PermissionDenied):
    """Genuine token, restricted account. A DRF exception (not our DomainError) because DRF only
    lets its own exceptions out of an authenticator cleanly; the project's handler renders it
    as ``{"code": "account_restricted", "message": ...}``."""

    default_code = "account_restricted"

    def __init__(self, refusal: str) -> None:
        super().__init__(detail={"message": refusal})


class GameTokenAuthentication(JWTTokenAuthentication):
    def authenticate_credentials(self, key: str) -> Any:
        try:
            user_and_payload = super().authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            # Restricting an account ends its sessions, so its tokens fail validation; tell
            # the client why instead of a bare "invalid token" when the token is genuine.
            refusal = token_standing_refusal(key, use="access")
            if refusal:
                raise AccountRestrictedFailure(refusal) from None
            raise
        refusal = user_and_payload[0].standing_refusal()
        if refusal:
            raise AccountRestrictedFailure(refusal)
        return user_and_payload
