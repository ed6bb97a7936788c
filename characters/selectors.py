"""Character reads. Every lookup of one character by id goes through ``character_get_owned``,
so another player's character is indistinguishable from one that does not exist."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from characters.models import Character
from mmo_platform.errors import NotFound


def character_get_owned(*, user: User, character_id: int, for_update: bool = False) -> Character:
    """Return ``user``'s character ``character_id`` (soft-deleted ones included).

    Raises NotFound for a character of another account, a purged one, or a malformed id: the
    same answer as for an id that was never used. ``for_update`` locks the row (caller is in a
    transaction).
    """
    try:
        character_pk = int(character_id)
    except (TypeError, ValueError):
        raise NotFound("No such character.") from None
    queryset = Character.objects.select_related("realm").filter(
        pk=character_pk, account_id=user.pk, purged_at__isnull=True
    )
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    character = queryset.first()
    if character is None:
        raise NotFound("No such character.")
    return character


def character_list_for_account(
    *, user: User, realm_id: int | None = None, include_deleted: bool = True
) -> QuerySet[Character]:
    """The account's characters (never purged ones), oldest first within each realm."""
    queryset = Character.objects.select_related("realm").filter(
        account_id=user.pk, purged_at__isnull=True
    )
    if realm_id is not None:
        queryset = queryset.filter(realm_id=realm_id)
    if not include_deleted:
        queryset = queryset.filter(deleted_at__isnull=True)
    return queryset.order_by("realm__name", "created_at", "pk")


def character_count_in_realm(*, user: User, realm_id: int) -> int:
    """Characters counting against the per-realm limit: soft-deleted ones included (ADR 0011)."""
    return Character.objects.filter(
        account_id=user.pk, realm_id=realm_id, purged_at__isnull=True
    ).count()


def character_restore_deadline(character: Character) -> datetime | None:
    """When a soft-deleted character stops being restorable; None if it is not deleted."""
    if character.deleted_at is None:
        return None
    return character.deleted_at + timedelta(days=settings.CHARACTER_RESTORE_DAYS)
