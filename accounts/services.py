"""Account use cases (writes). Views, admin actions and consumers call these; they never change
account status or end sessions themselves.

Every restriction ends all of the account's sessions, which revokes its game-client tokens at
once: allauth's JWT access and refresh tokens are bound to a Django session and validated
statefully (``HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED``), so a deleted session means a dead
token pair.
"""

from __future__ import annotations

import logging
from datetime import datetime

from allauth.usersessions.adapter import get_adapter as get_usersessions_adapter
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import STATUS_REASON_MAX_LENGTH, AccountStatus, User
from accounts.signals import account_standing_changed
from accounts.tickets import ticket_issue
from mmo_platform.audit import gm_action_record
from mmo_platform.errors import AccountRestricted, Conflict, NotFound, ValidationFailed
from mmo_platform.text import has_hidden_characters

logger = logging.getLogger(__name__)


def account_assert_may_play(user: User) -> None:
    """Raise ``AccountRestricted`` (with the reason the player is shown) unless ``user`` may log
    in, hold tokens and open game connections right now. Called by token refresh, the
    WebSocket-ticket endpoint, world entry and the gateway."""
    refusal = user.standing_refusal()
    if refusal:
        raise AccountRestricted(refusal)


def account_suspend(*, user: User, until: datetime, reason: str, actor: User | None) -> User:
    """Suspend ``user`` until ``until`` (timezone-aware, in the future) and end all sessions."""
    if timezone.is_naive(until):
        raise ValidationFailed("The suspension end must be timezone-aware.", code="naive_datetime")
    if until <= timezone.now():
        raise ValidationFailed("A suspension must end in the future.", code="suspension_in_past")
    return _account_set_standing(
        user=user, status=AccountStatus.SUSPENDED, reason=reason, until=until, actor=actor
    )


def account_ban(*, user: User, reason: str, actor: User | None) -> User:
    """Ban ``user`` with ``reason`` (shown to the player) and end all sessions."""
    return _account_set_standing(
        user=user, status=AccountStatus.BANNED, reason=reason, until=None, actor=actor
    )


def account_reinstate(*, user: User, actor: User | None) -> User:
    """Lift a suspension or ban. Sessions are ended too, so nothing issued while the account
    was restricted (there should be nothing) survives the change."""
    return _account_set_standing(
        user=user, status=AccountStatus.ACTIVE, reason="", until=None, actor=actor
    )


def _account_set_standing(
    *, user: User, status: str, reason: str, until: datetime | None, actor: User | None
) -> User:
    reason = reason.strip()
    if status != AccountStatus.ACTIVE and not reason:
        raise ValidationFailed("Give the player a reason.", code="reason_required")
    if len(reason) > STATUS_REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"The reason is longer than {STATUS_REASON_MAX_LENGTH} characters.",
            code="reason_too_long",
        )
    if has_hidden_characters(reason, allow_line_breaks=True):
        raise ValidationFailed(
            "The reason may not hold control or invisible formatting characters.",
            code="reason_invalid",
        )
    if actor is not None and actor.pk == user.pk and status != AccountStatus.ACTIVE:
        raise ValidationFailed("You cannot restrict your own account.", code="self_restriction")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if status == AccountStatus.SUSPENDED and locked.status == AccountStatus.BANNED:
            # A suspension would quietly turn a permanent ban into one that ends.
            raise Conflict(
                "This account is banned: reinstate it first to suspend it instead.",
                code="account_banned",
            )
        locked.status = status
        locked.status_reason = reason
        locked.suspended_until = until
        locked.save(update_fields=["status", "status_reason", "suspended_until"])
        ended = account_sessions_end_all(user=locked)
        message = _standing_message(status, reason, until)
        gm_action_record(actor=actor, objects=[locked], message=message)
        transaction.on_commit(
            lambda: account_standing_changed.send(
                sender=User, user=locked, actor=actor, status=status, reason=reason, until=until
            )
        )
    logger.info(
        "account %s standing -> %s by %s (%d sessions ended)",
        locked.pk,
        status,
        actor.pk if actor else "system",
        ended,
    )
    # Callers often keep using the instance they passed in (admin actions, tests).
    user.status, user.status_reason, user.suspended_until = status, reason, until
    return locked


def _standing_message(status: str, reason: str, until: datetime | None) -> str:
    ends = f" until {until.isoformat(timespec='minutes')}" if until is not None else ""
    because = f": {reason}" if reason else ""
    return f"Standing set to {status}{ends}{because}"


def account_sessions_end_all(*, user: User) -> int:
    """End every session of ``user`` — portal logins and game-client token pairs alike ("log out
    everywhere"). Returns how many were ended."""
    sessions = list(UserSession.objects.filter(user=user))
    get_usersessions_adapter().end_sessions(sessions)
    return len(sessions)


def account_session_end(*, user: User, session_id: int) -> None:
    """End one of ``user``'s sessions. Someone else's session id is reported as not found."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise NotFound("No such session.")
    get_usersessions_adapter().end_sessions([session])


def account_ws_ticket_issue(*, user: User) -> tuple[str, int]:
    """Issue a single-use WebSocket ticket for ``user``; returns (ticket, seconds it lives).

    The client exchanges its access token for this over HTTPS and presents the ticket in the
    socket's first frame, so no long-lived credential ever sits in a URL or access log."""
    account_assert_may_play(user)
    ttl = settings.WS_TICKET_TTL_SECONDS
    ticket = ticket_issue(purpose="ws", payload={"user_id": user.pk}, ttl_seconds=ttl)
    return ticket, ttl
