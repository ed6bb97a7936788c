"""Game-client token strategy: allauth's JWT strategy, plus refusing restricted accounts.

allauth validates a refresh token against its session but knows nothing of suspensions or
bans. Suspending ends the sessions (so the token is dead anyway); checking standing here as
well means the client is told *why* instead of getting a bare "invalid token", and it covers
a suspension written without the service (a raw SQL fix, a data migration).
"""

from __future__ import annotations

from allauth.account.internal.userkit import str_to_user_id
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.headless.tokens.strategies.jwt import JWTTokenStrategy
from allauth.headless.tokens.strategies.jwt.internal import decode_token

from accounts.models import User
from accounts.responses import headless_restricted_response


class GameTokenStrategy(JWTTokenStrategy):
    def refresh_token(self, refresh_token: str) -> tuple[str, str] | None:
        refusal = token_standing_refusal(refresh_token, use="refresh")
        if refusal:
            # allauth's refresh view only knows "None = invalid"; its middleware turns this
            # exception into the response, carrying the reason to the client.
            raise ImmediateHttpResponse(headless_restricted_response(None, refusal))
        return super().refresh_token(refresh_token)


def token_standing_refusal(token: str, *, use: str) -> str | None:
    """Why the account behind a genuine, unexpired ``use`` token ("access" or "refresh") may
    not play, or None. Deliberately ignores whether the token's session still exists: a ban
    ends the sessions, and the player should still learn the reason, not "invalid token"."""
    payload = decode_token(token, use)  # None unless signed by us, unexpired and of that use
    if payload is None:
        return None
    user = User.objects.filter(pk=str_to_user_id(payload["sub"])).first()
    return user.standing_refusal() if user is not None else None
