"""Mirror the validated content catalog into ``ItemDefinition`` and ``ShopOffer`` rows.

Runs after every ``migrate`` (post_migrate, see ``EconomyConfig``) and from the demo seed.
Idempotent: content wins for content fields; an offer's sold counter is never touched; entries
removed from content are marked ``retired`` (rows stay, history points at them).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from economy.catalog import Catalog, get_catalog
from economy.models import ItemDefinition, ShopOffer


@dataclass(frozen=True)
class SyncResult:
    items: int
    offers: int
    retired_items: int
    retired_offers: int


def catalog_sync(*, catalog: Catalog | None = None) -> SyncResult:
    catalog = catalog or get_catalog()
    now = timezone.now()
    with transaction.atomic():
        for item in catalog.items.values():
            ItemDefinition.objects.update_or_create(
                id=item.id,
                defaults={
                    "name": item.name,
                    "type": item.type,
                    "rarity": item.rarity,
                    "stack_size": item.stack_size,
                    "equip_slot": item.equip_slot or "",
                    "stats": item.stats,
                    "vendor_price": item.vendor_price,
                    "tradable": item.tradable,
                    "binds": item.binds,
                    "level_required": item.level_required,
                    "description": item.description,
                    "retired": False,
                    "synced_at": now,
                },
            )
        retired_items = (
            ItemDefinition.objects.exclude(id__in=list(catalog.items))
            .filter(retired=False)
            .update(retired=True, synced_at=now)
        )
        for offer in catalog.offers.values():
            ShopOffer.objects.update_or_create(
                id=offer.id,
                defaults={
                    "item_id": offer.item_id,
                    "title": offer.title,
                    "quantity": offer.quantity,
                    "currency": offer.currency,
                    "price": offer.price,
                    "stock_limit": offer.stock_limit,
                    "per_account_limit": offer.per_account_limit,
                    "starts_at": offer.starts_at,
                    "ends_at": offer.ends_at,
                    "retired": False,
                    "synced_at": now,
                },
            )
        retired_offers = (
            ShopOffer.objects.exclude(id__in=list(catalog.offers))
            .filter(retired=False)
            .update(retired=True, synced_at=now)
        )
    return SyncResult(
        items=len(catalog.items),
        offers=len(catalog.offers),
        retired_items=retired_items,
        retired_offers=retired_offers,
    )
