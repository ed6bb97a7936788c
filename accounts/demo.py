"""Demo accounts for `make run` (called by `manage.py seed_demo`). Idempotent.

Known passwords are only set where nobody else can reach the server: embedded mode or DEBUG.
Elsewhere the players are created with unusable passwords (other areas' demo data still finds
them) and no admin is created — use `manage.py createsuperuser`.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings

from accounts.models import User

DEMO_ADMIN = ("admin", "admin")
DEMO_PLAYERS = (("alice", "alice-password-1"), ("bob", "bob-password-1"))


def seed(*, known_passwords: bool | None = None) -> str:
    if known_passwords is None:
        known_passwords = bool(settings.EMBEDDED or settings.DEBUG)
    created = []
    if known_passwords:
        username, password = DEMO_ADMIN
        if _ensure_user(username, password, staff=True):
            created.append(username)
    for username, password in DEMO_PLAYERS:
        if _ensure_user(username, password if known_passwords else None, staff=False):
            created.append(username)
    summary = f"created {', '.join(created)}" if created else "demo accounts already present"
    if not known_passwords:
        return f"{summary} (no known passwords outside embedded mode; no admin)"
    logins = "; ".join(f"{u} / {p}" for u, p in (DEMO_ADMIN, *DEMO_PLAYERS))
    return f"{summary}. Log in at /accounts/login/ as {logins} (admin: /admin/)"


def _ensure_user(username: str, password: str | None, *, staff: bool) -> bool:
    """Create the account with a verified email unless it exists; True if it was created."""
    email = f"{username}@demo.mmo-platform.local"
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": email, "is_staff": staff, "is_superuser": staff},
    )
    if created:
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return created
