"""The item and shop catalog as data: loading and validating ``content/items.json`` and
``content/shop.json``.

Pure Python (no Django import) so it can be validated by a content tool or a test without a
database. ``EconomyConfig.ready`` loads it once at start-up and turns a :class:`CatalogError`
into ``ImproperlyConfigured`` naming the file and the fault; the services read definitions from
the cached :func:`get_catalog` (no query per item), the database mirror (``ItemDefinition``) only
exists so rows can reference definitions and the admin can browse them.

File format (one JSON object per file, ``"version": 1``)::

    items.json: {"version": 1, "items": [{"id", "name", "type", "rarity", "stack_size",
                 "equip_slot", "stats", "vendor_price", "tradable", "binds",
                 "level_required", "description"}, ...]}
    shop.json:  {"version": 1, "offers": [{"id", "item_id", "quantity",
                 "price": {"currency", "amount"}, "title"?, "stock_limit"?,
                 "per_account_limit"?, "starts_at"?, "ends_at"?}, ...]}
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

CATALOG_VERSION = 1
ITEM_TYPES = ("weapon", "armor", "consumable", "material", "quest", "cosmetic")
RARITIES = ("common", "uncommon", "rare", "epic", "legendary")
EQUIP_SLOTS = (
    "head",
    "chest",
    "hands",
    "legs",
    "feet",
    "main_hand",
    "off_hand",
    "neck",
    "ring",
    "cosmetic_head",
    "cosmetic_body",
    "cosmetic_back",
)
EQUIPPABLE_TYPES = ("weapon", "armor", "cosmetic")
STATS = ("strength", "agility", "intellect", "stamina", "armor", "attack_power", "spell_power")
BINDINGS = ("none", "pickup", "equip")
CURRENCIES = ("gold", "gems")
MAX_STACK_SIZE = 1000
MAX_PRICE = 10**9
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class CatalogError(ValueError):
    """A content file is malformed. ``str()`` names the file and the fault."""

    def __init__(self, path: Path | str, fault: str) -> None:
        super().__init__(f"{path}: {fault}")
        self.path = str(path)
        self.fault = fault


@dataclass(frozen=True)
class ItemDef:
    id: str
    name: str
    type: str
    rarity: str
    stack_size: int
    equip_slot: str | None
    stats: dict[str, int]
    vendor_price: int
    tradable: bool
    binds: str
    level_required: int
    description: str = ""

    @property
    def stackable(self) -> bool:
        return self.stack_size > 1

    @property
    def equippable(self) -> bool:
        return self.equip_slot is not None


@dataclass(frozen=True)
class OfferDef:
    id: str
    item_id: str
    quantity: int
    currency: str
    price: int
    title: str
    stock_limit: int | None = None
    per_account_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Catalog:
    items: dict[str, ItemDef] = field(default_factory=dict)
    offers: dict[str, OfferDef] = field(default_factory=dict)

    def item(self, item_id: str) -> ItemDef:
        return self.items[item_id]


# --- reading helpers -----------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(path, f"cannot be read ({error.strerror or error})") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError(path, f"is not valid JSON: {error}") from error


def _entries(path: Path, document: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        raise CatalogError(path, "top level must be a JSON object")
    if document.get("version") != CATALOG_VERSION:
        raise CatalogError(path, f'"version" must be {CATALOG_VERSION}')
    entries = document.get(key)
    if not isinstance(entries, list) or not entries:
        raise CatalogError(path, f'"{key}" must be a non-empty list')
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise CatalogError(path, f"{key}[{index}] must be an object")
    return entries


class _Fields:
    """Typed access to one entry's fields, raising CatalogError that names the entry."""

    def __init__(self, path: Path, where: str, entry: dict[str, Any], allowed: set[str]) -> None:
        self.path, self.where, self.entry = path, where, entry
        unknown = sorted(set(entry) - allowed)
        if unknown:
            self.fail(f"unknown field(s) {', '.join(unknown)}")

    def fail(self, fault: str) -> None:
        raise CatalogError(self.path, f"{self.where}: {fault}")

    def string(self, name: str, *, required: bool = True, default: str = "") -> str:
        value = self.entry.get(name, None if required else default)
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(f'"{name}" must be a non-empty string')
        return str(value)

    def integer(self, name: str, *, minimum: int, maximum: int, default: int | None = None) -> int:
        value = self.entry.get(name, default)
        # bool is an int subclass: refuse it explicitly.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f'"{name}" must be an integer')
        assert isinstance(value, int)
        if not minimum <= value <= maximum:
            self.fail(f'"{name}" must be between {minimum} and {maximum}, got {value}')
        return value

    def optional_integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        if self.entry.get(name) is None:
            return None
        return self.integer(name, minimum=minimum, maximum=maximum)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.entry.get(name, default)
        if not isinstance(value, bool):
            self.fail(f'"{name}" must be true or false')
        return bool(value)

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.entry.get(name, default)
        if value not in choices:
            self.fail(f'"{name}" must be one of {", ".join(choices)}, got {value!r}')
        return str(value)

    def identifier(self, name: str) -> str:
        value = self.string(name)
        if not _ID_PATTERN.match(value):
            self.fail(f'"{name}" must be lower_snake_case (2-64 chars), got {value!r}')
        return value

    def timestamp(self, name: str) -> datetime | None:
        value = self.entry.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f'"{name}" must be an ISO 8601 string')
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise CatalogError(
                self.path, f'{self.where}: "{name}" is not an ISO 8601 timestamp: {value!r}'
            ) from error
        if moment.tzinfo is None:
            self.fail(f'"{name}" needs a timezone (e.g. "Z"): {value!r}')
        return moment


# --- items ---------------------------------------------------------------------------------

_ITEM_FIELDS = {
    "id",
    "name",
    "type",
    "rarity",
    "stack_size",
    "equip_slot",
    "stats",
    "vendor_price",
    "tradable",
    "binds",
    "level_required",
    "description",
}


def _parse_item(path: Path, index: int, entry: dict[str, Any]) -> ItemDef:
    where = f"items[{index}] ({entry.get('id', '?')})"
    fields = _Fields(path, where, entry, _ITEM_FIELDS)
    item_type = fields.choice("type", ITEM_TYPES)
    stack_size = fields.integer("stack_size", minimum=1, maximum=MAX_STACK_SIZE, default=1)
    equip_slot = entry.get("equip_slot")
    if equip_slot is not None and equip_slot not in EQUIP_SLOTS:
        fields.fail(f'"equip_slot" must be one of {", ".join(EQUIP_SLOTS)} or null')
    if item_type in ("weapon", "armor") and equip_slot is None:
        fields.fail(f'a {item_type} needs an "equip_slot"')
    if equip_slot is not None and item_type not in EQUIPPABLE_TYPES:
        fields.fail(f'a {item_type} cannot have an "equip_slot"')
    if equip_slot is not None and stack_size != 1:
        fields.fail('equippable items must have "stack_size" 1')
    stats = entry.get("stats", {})
    if not isinstance(stats, dict):
        fields.fail('"stats" must be an object')
    for stat, value in stats.items():
        if stat not in STATS:
            fields.fail(f'unknown stat "{stat}" (known: {", ".join(STATS)})')
        if not isinstance(value, int) or isinstance(value, bool) or not -1000 <= value <= 1000:
            fields.fail(f'stat "{stat}" must be an integer between -1000 and 1000')
    if stats and equip_slot is None:
        fields.fail('only equippable items can have "stats"')
    tradable = fields.boolean("tradable", default=True)
    binds = fields.choice("binds", BINDINGS, default="none")
    if binds == "pickup" and tradable:
        fields.fail('an item that binds on pickup cannot be "tradable"')
    if binds == "equip" and equip_slot is None:
        fields.fail('"binds": "equip" needs an "equip_slot"')
    if item_type == "quest" and (tradable or binds != "pickup"):
        fields.fail('quest items must be "tradable": false and "binds": "pickup"')
    return ItemDef(
        id=fields.identifier("id"),
        name=fields.string("name"),
        type=item_type,
        rarity=fields.choice("rarity", RARITIES),
        stack_size=stack_size,
        equip_slot=equip_slot,
        stats=dict(stats),
        vendor_price=fields.integer("vendor_price", minimum=0, maximum=MAX_PRICE, default=0),
        tradable=tradable,
        binds=binds,
        level_required=fields.integer("level_required", minimum=1, maximum=1000, default=1),
        description=fields.string("description", required=False),
    )


def load_items(path: Path) -> dict[str, ItemDef]:
    items: dict[str, ItemDef] = {}
    for index, entry in enumerate(_entries(path, _read_json(path), "items")):
        item = _parse_item(path, index, entry)
        if item.id in items:
            raise CatalogError(path, f'items[{index}]: duplicate id "{item.id}"')
        items[item.id] = item
    return items


# --- shop offers ---------------------------------------------------------------------------

_OFFER_FIELDS = {
    "id",
    "item_id",
    "quantity",
    "price",
    "title",
    "stock_limit",
    "per_account_limit",
    "starts_at",
    "ends_at",
}


def _parse_offer(
    path: Path, index: int, entry: dict[str, Any], items: dict[str, ItemDef]
) -> OfferDef:
    fields = _Fields(path, f"offers[{index}] ({entry.get('id', '?')})", entry, _OFFER_FIELDS)
    item_id = fields.string("item_id")
    item = items.get(item_id)
    if item is None:
        fields.fail(f'"item_id" names an unknown item "{item_id}"')
    assert item is not None
    if item.type == "quest":
        fields.fail("quest items cannot be sold in the shop")
    quantity = fields.integer("quantity", minimum=1, maximum=MAX_STACK_SIZE, default=1)
    price = entry.get("price")
    if not isinstance(price, dict):
        fields.fail('"price" must be an object {"currency", "amount"}')
    price_fields = _Fields(path, fields.where + " price", dict(price or {}), {"currency", "amount"})
    starts_at, ends_at = fields.timestamp("starts_at"), fields.timestamp("ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        fields.fail('"ends_at" must be after "starts_at"')
    return OfferDef(
        id=fields.identifier("id"),
        item_id=item_id,
        quantity=quantity,
        currency=price_fields.choice("currency", CURRENCIES),
        price=price_fields.integer("amount", minimum=1, maximum=MAX_PRICE),
        title=fields.string("title", required=False) or f"{item.name} x{quantity}",
        stock_limit=fields.optional_integer("stock_limit", minimum=1, maximum=10**9),
        per_account_limit=fields.optional_integer("per_account_limit", minimum=1, maximum=10**6),
        starts_at=starts_at,
        ends_at=ends_at,
    )


def load_offers(path: Path, items: dict[str, ItemDef]) -> dict[str, OfferDef]:
    offers: dict[str, OfferDef] = {}
    for index, entry in enumerate(_entries(path, _read_json(path), "offers")):
        offer = _parse_offer(path, index, entry, items)
        if offer.id in offers:
            raise CatalogError(path, f'offers[{index}]: duplicate id "{offer.id}"')
        offers[offer.id] = offer
    return offers


def load_catalog(content_dir: Path) -> Catalog:
    """Load and validate both files. Raises CatalogError naming the file and the fault."""
    items = load_items(content_dir / "items.json")
    offers = load_offers(content_dir / "shop.json", items)
    return Catalog(items=items, offers=offers)


# --- process-wide cache --------------------------------------------------------------------

_cache_lock = threading.Lock()
_cached: dict[Path, Catalog] = {}


def get_catalog(content_dir: Path | None = None) -> Catalog:
    """The validated catalog, loaded once per process (content changes need a restart)."""
    if content_dir is None:
        from django.conf import settings  # late import keeps this module Django-free

        content_dir = Path(settings.CONTENT_DIR)
    with _cache_lock:
        catalog = _cached.get(content_dir)
        if catalog is None:
            catalog = _cached[content_dir] = load_catalog(content_dir)
        return catalog
