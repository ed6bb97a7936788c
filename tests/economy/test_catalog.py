"""The catalog as data: the shipped content is valid, every fault is refused with the file and
the fault named, start-up refuses bad content, and the DB mirror syncs idempotently."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from economy import catalog as catalog_module
from economy.catalog import CatalogError, load_catalog
from economy.models import ItemDefinition, ShopOffer
from economy.services import catalog_sync

CONTENT = Path(__file__).resolve().parents[2] / "content"


def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    items = json.loads((CONTENT / "items.json").read_text())
    shop = json.loads((CONTENT / "shop.json").read_text())
    return items, shop


def _write(tmp_path: Path, items: Any, shop: Any) -> Path:
    (tmp_path / "items.json").write_text(json.dumps(items))
    (tmp_path / "shop.json").write_text(json.dumps(shop))
    return tmp_path


def test_shipped_content_is_valid_and_rich_enough() -> None:
    catalog = load_catalog(CONTENT)

    assert len(catalog.items) >= 30
    assert {item.type for item in catalog.items.values()} == {
        "weapon",
        "armor",
        "consumable",
        "material",
        "quest",
        "cosmetic",
    }
    assert any(item.binds == "pickup" for item in catalog.items.values())
    premium = [o for o in catalog.offers.values() if o.currency == "gems"]
    assert any(catalog.items[o.item_id].type == "cosmetic" for o in premium)
    assert any(o.stock_limit for o in catalog.offers.values())
    assert any(o.ends_at for o in catalog.offers.values())
    assert any(o.per_account_limit for o in catalog.offers.values())


def _item(items: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(entry for entry in items["items"] if entry["id"] == item_id)


ITEM_FAULTS = [
    ("unknown type", lambda d: _item(d, "iron_sword").update(type="gun"), '"type" must be one of'),
    ("stack 0", lambda d: _item(d, "bread").update(stack_size=0), '"stack_size" must be between'),
    (
        "stackable equipment",
        lambda d: _item(d, "iron_sword").update(stack_size=5),
        "equippable items must have",
    ),
    ("weapon without slot", lambda d: _item(d, "iron_sword").update(equip_slot=None), "needs an"),
    ("bad slot", lambda d: _item(d, "iron_sword").update(equip_slot="tail"), '"equip_slot" must'),
    ("unknown stat", lambda d: _item(d, "iron_sword").update(stats={"luck": 3}), "unknown stat"),
    (
        "tradable bind-on-pickup",
        lambda d: _item(d, "dragonfang").update(tradable=True),
        "binds on pickup cannot",
    ),
    ("tradable quest item", lambda d: _item(d, "sealed_letter").update(binds="none"), "quest"),
    ("negative price", lambda d: _item(d, "bread").update(vendor_price=-1), '"vendor_price"'),
    ("bool as int", lambda d: _item(d, "bread").update(stack_size=True), "must be an integer"),
    ("unknown field", lambda d: _item(d, "bread").update(colour="red"), "unknown field(s) colour"),
    ("bad id", lambda d: _item(d, "bread").update(id="Bread!"), "lower_snake_case"),
    ("duplicate id", lambda d: d["items"].append(copy.deepcopy(d["items"][0])), "duplicate id"),
    ("wrong version", lambda d: d.update(version=2), '"version" must be 1'),
    ("no items", lambda d: d.update(items=[]), "non-empty list"),
]


@pytest.mark.parametrize(("case", "mutate", "fault"), ITEM_FAULTS, ids=[c[0] for c in ITEM_FAULTS])
def test_item_faults_name_the_file_and_the_fault(
    tmp_path: Path, case: str, mutate: Any, fault: str
) -> None:
    items, shop = _documents()
    mutate(items)
    directory = _write(tmp_path, items, shop)

    with pytest.raises(CatalogError) as raised:
        load_catalog(directory)

    assert raised.value.path.endswith("items.json")
    assert fault in str(raised.value)


def _offer(shop: dict[str, Any], offer_id: str) -> dict[str, Any]:
    return next(entry for entry in shop["offers"] if entry["id"] == offer_id)


OFFER_FAULTS = [
    ("unknown item", lambda d: _offer(d, "potion_pack").update(item_id="nope"), "unknown item"),
    ("quest item", lambda d: _offer(d, "potion_pack").update(item_id="sealed_letter"), "quest"),
    (
        "zero price",
        lambda d: _offer(d, "potion_pack").update(price={"currency": "gold", "amount": 0}),
        '"amount" must be between',
    ),
    (
        "bad currency",
        lambda d: _offer(d, "potion_pack").update(price={"currency": "usd", "amount": 5}),
        '"currency" must be one of',
    ),
    (
        "naive time",
        lambda d: _offer(d, "potion_pack").update(starts_at="2026-01-01T00:00:00"),
        "needs a timezone",
    ),
    (
        "garbage time",
        lambda d: _offer(d, "potion_pack").update(ends_at="tomorrow"),
        "not an ISO 8601",
    ),
    (
        "ends before start",
        lambda d: _offer(d, "potion_pack").update(
            starts_at="2026-02-01T00:00:00Z", ends_at="2026-01-01T00:00:00Z"
        ),
        '"ends_at" must be after',
    ),
    ("stock 0", lambda d: _offer(d, "potion_pack").update(stock_limit=0), '"stock_limit"'),
    ("duplicate", lambda d: d["offers"].append(copy.deepcopy(d["offers"][0])), "duplicate id"),
]


@pytest.mark.parametrize(
    ("case", "mutate", "fault"), OFFER_FAULTS, ids=[c[0] for c in OFFER_FAULTS]
)
def test_offer_faults_name_the_file_and_the_fault(
    tmp_path: Path, case: str, mutate: Any, fault: str
) -> None:
    items, shop = _documents()
    mutate(shop)
    directory = _write(tmp_path, items, shop)

    with pytest.raises(CatalogError) as raised:
        load_catalog(directory)

    assert raised.value.path.endswith("shop.json")
    assert fault in str(raised.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(tmp_path)
    (tmp_path / "items.json").write_text("{not json")
    with pytest.raises(CatalogError, match="is not valid JSON"):
        load_catalog(tmp_path)


def test_startup_refuses_invalid_content(tmp_path: Path, settings: Any) -> None:
    # given a content directory whose items.json is broken
    items, shop = _documents()
    _item(items, "bread")["rarity"] = "mythic"
    settings.CONTENT_DIR = _write(tmp_path, items, shop)

    # when the economy app starts
    with pytest.raises(ImproperlyConfigured) as raised:
        apps.get_app_config("economy").ready()

    # then start-up stops and names the file and the fault
    assert "items.json" in str(raised.value)
    assert '"rarity" must be one of' in str(raised.value)
    catalog_module._cached.pop(Path(tmp_path), None)


@pytest.mark.django_db
def test_catalog_is_mirrored_after_migrate_and_sync_is_idempotent() -> None:
    catalog = load_catalog(CONTENT)
    # post_migrate already synced the test database
    assert ItemDefinition.objects.count() == len(catalog.items)
    assert ShopOffer.objects.count() == len(catalog.offers)
    ShopOffer.objects.filter(pk="elixir_of_might_limited").update(stock_sold=7)

    result = catalog_sync()

    assert result.items == len(catalog.items)
    assert result.written == 0  # nothing changed: nothing rewritten
    assert ItemDefinition.objects.count() == len(catalog.items)
    assert ShopOffer.objects.get(pk="elixir_of_might_limited").stock_sold == 7


@pytest.mark.django_db
def test_entries_removed_from_content_are_retired_not_deleted(tmp_path: Path) -> None:
    items, shop = _documents()
    items["items"] = [entry for entry in items["items"] if entry["id"] != "pirate_outfit"]
    shop["offers"] = [entry for entry in shop["offers"] if entry["id"] != "bread_loaf"]
    smaller = load_catalog(_write(tmp_path, items, shop))

    result = catalog_sync(catalog=smaller)

    assert result.retired_items == 1
    assert result.retired_offers == 1
    assert ItemDefinition.objects.get(pk="pirate_outfit").retired
    assert ShopOffer.objects.get(pk="bread_loaf").retired


@pytest.mark.django_db
def test_changed_content_is_written_over_the_mirror(tmp_path: Path) -> None:
    items, shop = _documents()
    _item(items, "bread")["name"] = "Stale Bread"
    _offer(shop, "potion_pack")["price"] = {"currency": "gold", "amount": 99}
    ShopOffer.objects.filter(pk="potion_pack").update(enabled=False)

    result = catalog_sync(catalog=load_catalog(_write(tmp_path, items, shop)))

    assert result.written == 2
    assert ItemDefinition.objects.get(pk="bread").name == "Stale Bread"
    offer = ShopOffer.objects.get(pk="potion_pack")
    assert (offer.price, offer.enabled) == (99, False)  # the GM's switch survives a sync
