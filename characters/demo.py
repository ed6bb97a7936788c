"""Demo characters for `make run` (after accounts and worlds demo data). Idempotent: a character
is created only if its account exists and has no character of that name."""

from __future__ import annotations

from accounts.models import User
from characters.models import Character
from characters.services import character_create

# username, realm slug, name, class, race, appearance
DEMO_CHARACTERS = (
    ("alice", "eldoria", "Alyndra", "mage", "elf", {"body": 2, "hair": 5, "color": "dusk"}),
    ("bob", "eldoria", "Borin", "warrior", "dwarf", {"body": 3, "hair": 2, "color": "ember"}),
)


def seed() -> str:
    created = []
    for username, realm_slug, name, class_id, race_id, appearance in DEMO_CHARACTERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        exists = Character.objects.filter(
            account=user, realm__slug=realm_slug, name_key=name.casefold(), purged_at__isnull=True
        ).exists()
        if exists:
            continue
        character_create(
            user=user,
            realm_slug=realm_slug,
            name=name,
            class_id=class_id,
            race_id=race_id,
            appearance=appearance,
        )
        created.append(f"{name} ({username})")
    return f"created {', '.join(created)}" if created else "demo characters already present"
