"""Account reads for the portal and the API (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.usersessions.models import UserSession
from django.conf import settings

from accounts.models import User

# allauth's JWT strategy keeps the refresh-token ledger under this session key, which is how a
# game-client session is told apart from a browser login.
_REFRESH_TOKENS_SESSION_KEY = "headless_refresh_tokens"


@dataclass(frozen=True)
class SessionRow:
    id: int
    kind: str  # "game client" or "browser"
    ip: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    is_current: bool


@dataclass(frozen=True)
class MfaState:
    totp_active: bool
    recovery_codes_total: int
    recovery_codes_unused: int

    @property
    def enabled(self) -> bool:
        return self.totp_active


def user_sessions_list(*, user: User, current_session_key: str | None = None) -> list[SessionRow]:
    """The user's live sessions, newest activity first; ended or expired ones are purged."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    rows = []
    for session in UserSession.objects.purge_and_list(user):
        store = store_class(session.session_key)
        is_game_client = _REFRESH_TOKENS_SESSION_KEY in store
        rows.append(
            SessionRow(
                id=session.pk,
                kind="game client" if is_game_client else "browser",
                ip=session.ip,
                user_agent=session.user_agent,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                is_current=session.session_key == current_session_key,
            )
        )
    return sorted(rows, key=lambda row: row.last_seen_at, reverse=True)


def account_mfa_state(*, user: User) -> MfaState:
    authenticators = {a.type: a for a in Authenticator.objects.filter(user=user)}
    recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
    total = unused = 0
    if recovery is not None:
        codes = RecoveryCodes(recovery)
        total, unused = len(codes.generate_codes()), len(codes.get_unused_codes())
    return MfaState(
        totp_active=Authenticator.Type.TOTP in authenticators,
        recovery_codes_total=total,
        recovery_codes_unused=unused,
    )


def account_primary_email(*, user: User) -> EmailAddress | None:
    return EmailAddress.objects.filter(user=user, primary=True).first()
