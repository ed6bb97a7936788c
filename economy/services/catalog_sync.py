"""Mirror the validated content catalog into ``ItemDefinition`` and ``ShopOffer`` rows.

Runs after every ``migrate`` (post_migrate, see ``EconomyConfig``; test-database flushes emit it
too, so it is a handful of bulk queries) and from the demo seed. Idempotent: content wins for
content fields; an offer's sold counter and ``enabled`` switch are never touched; entries removed
from content are marked ``retired`` (rows stay, history points at them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from economy.catalog import Catalog, ItemDef, OfferDef, get_catalog
from economy.models import ItemDefinition, ShopOffer


@dataclass(frozen=True)
class SyncResult:
    items: int
    offers: int
    written: int
    retired_items: int
    retired_offers: int


def _item_fields(item: ItemDef) -> dict[str, Any]:
    return {
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
    }


def _offer_fields(offer: OfferDef) -> dict[str, Any]:
    return {
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
    }


def _mirror(model: type[models.Model], wanted: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """Create missing rows, update rows whose content fields differ, retire rows not wanted.
    Returns (rows written, rows retired)."""
    now = timezone.now()
    existing = model._default_manager.in_bulk(list(wanted))
    creates, updates = [], []
    for pk, fields in wanted.items():
        row = existing.get(pk)
        if row is None:
            creates.append(model(pk=pk, synced_at=now, **fields))
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.synced_at = now  # type: ignore[attr-defined]
            updates.append(row)
    model._default_manager.bulk_create(creates)
    if updates:
        model._default_manager.bulk_update(updates, [*next(iter(wanted.values())), "synced_at"])
    retired = (
        model._default_manager.exclude(pk__in=list(wanted))
        .filter(retired=False)
        .update(retired=True, synced_at=now)
    )
    return len(creates) + len(updates), retired


def catalog_sync(*, catalog: Catalog | None = None) -> SyncResult:
    catalog = catalog or get_catalog()
    with transaction.atomic():
        items_written, retired_items = _mirror(
            ItemDefinition, {item.id: _item_fields(item) for item in catalog.items.values()}
        )
        offers_written, retired_offers = _mirror(
            ShopOffer, {offer.id: _offer_fields(offer) for offer in catalog.offers.values()}
        )
    return SyncResult(
        items=len(catalog.items),
        offers=len(catalog.offers),
        written=items_written + offers_written,
        retired_items=retired_items,
        retired_offers=retired_offers,
    )
