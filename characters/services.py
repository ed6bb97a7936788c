"""Character use cases (writes): create, soft delete, restore, purge.

Name rules, each with its own error code (``ValidationFailed.code``) so clients can show the
right message next to the field:

* ``name_length``   3 to 16 letters;
* ``name_charset``  the letters A-Z only (no digits, spaces, accents or symbols);
* ``name_reserved`` a staff or system word, or an offensive stem (content/reserved_names.txt);
* ``name_taken``    another character of the realm has it, compared case-insensitively; a
  soft-deleted character keeps its name until it is purged (ADR 0011).

Names are stored with one capital first letter ("alice" and "ALICE" become "Alice").
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import account_assert_may_play
from characters.content import get_character_content, get_reserved_names, starting_values
from characters.models import Character
from characters.selectors import (
    character_count_in_realm,
    character_get_owned,
    character_restore_deadline,
)
from characters.signals import character_purged
from mmo_platform.errors import Conflict, ValidationFailed
from worlds.content import starting_spawn_point
from worlds.models import Realm, WorldSession
from worlds.services import login_queue_leave_for_character

logger = logging.getLogger(__name__)

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 16
_NAME_LETTERS = re.compile(r"[A-Za-z]+")


def character_name_normalise(*, name: str) -> str:
    """Check the rules that need no database (length, letters, reserved list); return the name
    as stored. Raises ValidationFailed with code name_length, name_charset or name_reserved."""
    candidate = name.strip() if isinstance(name, str) else ""
    if not NAME_MIN_LENGTH <= len(candidate) <= NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"A name must be {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} letters long.",
            code="name_length",
            field="name",
        )
    if not _NAME_LETTERS.fullmatch(candidate):
        raise ValidationFailed(
            "A name may contain only the letters A to Z, without spaces, digits or accents.",
            code="name_charset",
            field="name",
        )
    if get_reserved_names().refuses(candidate):
        raise ValidationFailed(
            "That name is reserved or not allowed.", code="name_reserved", field="name"
        )
    return candidate[0].upper() + candidate[1:].lower()


def character_create(
    *,
    user: User,
    realm_slug: str,
    name: str,
    class_id: str,
    race_id: str,
    appearance: dict[str, Any],
    now: datetime | None = None,
) -> Character:
    """Create a character in the starting zone with its class and race base values."""
    account_assert_may_play(user)
    realm = Realm.objects.filter(slug=realm_slug, is_open=True).first()
    if realm is None:
        raise ValidationFailed("No such realm.", code="realm_unknown", field="realm")
    display_name = character_name_normalise(name=name)
    content = get_character_content()
    class_ = content.classes.get(class_id)
    if class_ is None:
        raise ValidationFailed("No such class.", code="class_unknown", field="class_id")
    race = content.races.get(race_id)
    if race is None:
        raise ValidationFailed("No such race.", code="race_unknown", field="race_id")
    clean_appearance = appearance_validate(appearance)
    values = starting_values(class_=class_, race=race)
    zone_id, spawn = starting_spawn_point()
    name_key = display_name.casefold()
    try:
        with transaction.atomic():
            # Serialises this account's creations so two requests cannot both pass the limit.
            User.objects.select_for_update().filter(pk=user.pk).first()
            limit = settings.CHARACTERS_PER_REALM
            if character_count_in_realm(user=user, realm_id=realm.pk) >= limit:
                raise ValidationFailed(
                    f"You already have {limit} characters on {realm.name} (deleted characters "
                    "count until they are purged).",
                    code="character_limit",
                    limit=limit,
                )
            _assert_name_free(realm=realm, name_key=name_key)
            return Character.objects.create(
                account=user,
                realm=realm,
                name=display_name,
                name_key=name_key,
                class_id=class_.id,
                race_id=race.id,
                appearance=clean_appearance,
                zone=zone_id,
                x=spawn.x,
                y=spawn.y,
                hp=values["hp"],
                max_hp=values["hp"],
                resource=values["resource"],
                max_resource=values["resource"],
                stats={stat: values[stat] for stat in ("str", "agi", "int", "spi")},
                created_at=now or timezone.now(),
            )
    except IntegrityError:
        # Lost a race with a concurrent creation of the same name: the unique index decided.
        raise _name_taken(realm) from None


def character_delete(*, user: User, character_id: int, now: datetime | None = None) -> Character:
    """Soft-delete: the character disappears from play but can be restored for
    ``CHARACTER_RESTORE_DAYS``. Refused while the character is in the world."""
    now = now or timezone.now()
    with transaction.atomic():
        character = character_get_owned(user=user, character_id=character_id, for_update=True)
        if character.deleted_at is not None:
            raise Conflict("This character is already deleted.", code="character_deleted")
        session = WorldSession.objects.filter(account_id=user.pk, character=character).first()
        if session is not None and session.is_connected:
            raise Conflict(
                "Leave the world before deleting this character.", code="character_in_world"
            )
        character.deleted_at = now
        character.save(update_fields=["deleted_at"])
        login_queue_leave_for_character(character_id=character.pk, now=now)
    logger.info("character %s (%s) soft-deleted by account %s", character.pk, character, user.pk)
    return character


def character_restore(*, user: User, character_id: int, now: datetime | None = None) -> Character:
    """Undo a soft delete within the restore window."""
    now = now or timezone.now()
    with transaction.atomic():
        character = character_get_owned(user=user, character_id=character_id, for_update=True)
        deadline = character_restore_deadline(character)
        if deadline is None:
            raise Conflict("This character is not deleted.", code="character_not_deleted")
        if deadline <= now:
            # Past the window but not purged yet (the purge runs periodically): same answer.
            raise Conflict("The restore window has ended.", code="restore_window_ended")
        character.deleted_at = None
        character.save(update_fields=["deleted_at"])
    logger.info("character %s (%s) restored by account %s", character.pk, character, user.pk)
    return character


def character_purge_expired(*, now: datetime | None = None) -> int:
    """Purge characters whose restore window has ended; return how many.

    Purged rows stay (other tables may reference them, e.g. the ledger) but are invisible to
    players and no longer reserve their name. Idempotent; safe to run from several workers.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CHARACTER_RESTORE_DAYS)
    with transaction.atomic():
        expired = list(
            Character.objects.select_for_update(skip_locked=True)
            .filter(deleted_at__lte=cutoff, purged_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Character.objects.filter(pk__in=expired).update(purged_at=now)
        for character_id in expired:
            transaction.on_commit(
                partial(character_purged.send, sender=Character, character_id=character_id)
            )
    if expired:
        logger.info("purged %d characters past their restore window", len(expired))
    return len(expired)


def _assert_name_free(*, realm: Realm, name_key: str) -> None:
    taken = Character.objects.filter(
        realm=realm, name_key=name_key, purged_at__isnull=True
    ).exists()
    if taken:
        raise _name_taken(realm)


def _name_taken(realm: Realm) -> ValidationFailed:
    return ValidationFailed(
        f"That name is already taken on {realm.name}.", code="name_taken", field="name"
    )


def appearance_validate(appearance: Any) -> dict[str, Any]:
    """The stored form of ``appearance``, or ValidationFailed: for creation and GM edits alike."""
    options = get_character_content().appearance
    if not isinstance(appearance, dict) or set(appearance) != {"body", "hair", "color"}:
        raise ValidationFailed(
            "Appearance needs exactly body, hair and color.",
            code="appearance_invalid",
            field="appearance",
        )
    body, hair, color = appearance["body"], appearance["hair"], appearance["color"]
    ranges = {
        "body": (options.body_min, options.body_max),
        "hair": (options.hair_min, options.hair_max),
    }
    for key, value in (("body", body), ("hair", hair)):
        low, high = ranges[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationFailed(
                f"Appearance {key} must be a number from {low} to {high}.",
                code="appearance_invalid",
                field="appearance",
            )
    if not isinstance(color, str) or color not in options.colors:
        raise ValidationFailed(
            "Appearance color must be one of the palette colors.",
            code="appearance_invalid",
            field="appearance",
        )
    return {"body": body, "hair": hair, "color": color}
