"""Demo economy for `make run` (called by `manage.py seed_demo` after characters). Idempotent:
the catalog sync is, and each starter pack is a ledger transaction with a fixed key, so a second
run grants nothing."""

from __future__ import annotations

from characters.models import Character
from economy.services import catalog_sync, economy_grant

DEMO_ACCOUNTS = ("alice", "bob")
STARTER_GOLD = 1000
STARTER_GEMS = 2000
STARTER_ITEMS = (
    ("rusty_sword", 1),
    ("padded_tunic", 1),
    ("leather_cap", 1),
    ("minor_healing_potion", 10),
    ("bread", 20),
    ("wolf_pelt", 12),
    ("festive_hat", 1),
)


def seed() -> str:
    synced = catalog_sync()
    characters = Character.objects.filter(
        account__username__in=DEMO_ACCOUNTS, deleted_at__isnull=True, purged_at__isnull=True
    ).order_by("pk")
    granted = 0
    for character in characters:
        for currency, amount in (("gold", STARTER_GOLD), ("gems", STARTER_GEMS)):
            result = economy_grant(
                character=character,
                source="gm",
                actor=None,
                reason="demo starter pack",
                idempotency_key=f"demo-starter-{currency}-{character.pk}",
                currency=currency,
                amount=amount,
            )
        result = economy_grant(
            character=character,
            source="gm",
            actor=None,
            reason="demo starter pack",
            idempotency_key=f"demo-starter-items-{character.pk}",
            items=list(STARTER_ITEMS),
        )
        granted += 0 if result.replayed else 1
    return (
        f"catalog: {synced.items} items, {synced.offers} offers; "
        f"starter packs granted to {granted} new of {characters.count()} demo characters"
    )
