"""Account factories beyond tests.factories.UserFactory."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from accounts.models import User


def enable_totp(user: User) -> str:
    """Give ``user`` an authenticator app plus recovery codes, as the portal does; returns the
    secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    assert Authenticator.objects.filter(user=user).count() == 2
    return secret
