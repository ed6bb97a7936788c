"""Building blocks every economy use case shares: locks in the house order, idempotent runs,
postings and item movements. Private to the services package; other apps call the use cases.

A use case is::

    run_idempotent(key=..., fingerprint=..., replay=..., work=...)
        └─ work(): inside one transaction.atomic()
             locks = lock_accounts(characters=..., wallets=...)   # inventories, then wallets
             tx = begin_transaction(kind=..., key=...)          # the unique key is inserted here
             book = Book(tx, locks)                             # postings + movements
             ...; book.finish()

Everything here assumes the caller is inside ``transaction.atomic()`` and holds the locks it
needs (docstrings say which).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from characters.models import Character
from economy.catalog import ItemDef, get_catalog
from economy.models import (
    ESCROW_CONTAINERS,
    Currency,
    Inventory,
    ItemContainer,
    ItemInstance,
    ItemMovement,
    LedgerPosting,
    LedgerTransaction,
    MovementPlace,
    Wallet,
    WalletKind,
)
from mmo_platform import metrics
from mmo_platform.errors import Conflict, DomainError, ValidationFailed

logger = logging.getLogger("economy")

T = TypeVar("T")

MAX_CLIENT_KEY_LENGTH = 100
MAX_AMOUNT = 10**12
# A slot number no real inventory reaches: the parking spot while two items swap places (the
# unique (owner, slot) index is checked per statement).
PARKING_SLOT = 32767


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class InventoryFull(Conflict):
    code = "inventory_full"


class _AlreadyDone(Exception):
    """Raised inside a use case that finds its key already committed (after taking locks)."""

    def __init__(self, ledger_transaction: LedgerTransaction) -> None:
        super().__init__(ledger_transaction.idempotency_key)
        self.ledger_transaction = ledger_transaction


# --- validation helpers ------------------------------------------------------------------


def check_currency(currency: str) -> str:
    if currency not in Currency.values:
        raise ValidationFailed(
            f"Unknown currency {currency!r}.", code="unknown_currency", allowed=Currency.values
        )
    return currency


def check_amount(amount: int, *, name: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise ValidationFailed(
            f"{name} must be a whole number between 1 and {MAX_AMOUNT}.", code="invalid_amount"
        )
    return amount


def check_quantity(quantity: int, *, maximum: int = 10**6) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= maximum:
        raise ValidationFailed(
            f"quantity must be a whole number between 1 and {maximum}.", code="invalid_quantity"
        )
    return quantity


def check_client_key(key: str | None) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationFailed(
            "An idempotency key is required for this operation.", code="idempotency_key_required"
        )
    if len(key) > MAX_CLIENT_KEY_LENGTH:
        raise ValidationFailed(
            f"The idempotency key is longer than {MAX_CLIENT_KEY_LENGTH} characters.",
            code="idempotency_key_invalid",
        )
    return key.strip()


def check_active_character(character: Character) -> None:
    if character.deleted_at is not None or character.purged_at is not None:
        raise Conflict("This character is deleted.", code="character_deleted")


def item_definition(item_id: str) -> ItemDef:
    item = get_catalog().items.get(item_id)
    if item is None:
        raise ValidationFailed(f"Unknown item {item_id!r}.", code="unknown_item")
    return item


# --- idempotent execution ----------------------------------------------------------------


def find_transaction(key: str) -> LedgerTransaction | None:
    return LedgerTransaction.objects.filter(idempotency_key=key).first()


def _checked_replay(existing: LedgerTransaction, fingerprint: dict[str, Any]) -> LedgerTransaction:
    if existing.metadata.get("request") != fingerprint:
        raise Conflict(
            "This idempotency key was already used for a different request.",
            code="idempotency_key_reused",
        )
    return existing


def run_idempotent(
    *,
    kind: str,
    key: str | None,
    fingerprint: dict[str, Any],
    work: Callable[[], T],
    replay: Callable[[LedgerTransaction], T],
) -> T:
    """Run ``work`` in one transaction unless ``key`` already committed; then (also when two
    requests with the same key race and the loser hits the unique index) return ``replay`` of
    the first transaction. A refused request stores nothing, so its retry is tried afresh."""
    if key is not None:
        existing = find_transaction(key)
        if existing is not None:
            return replay(_checked_replay(existing, fingerprint))
    try:
        with transaction.atomic():
            result = work()
    except _AlreadyDone as done:
        return replay(_checked_replay(done.ledger_transaction, fingerprint))
    except IntegrityError:
        existing = find_transaction(key) if key is not None else None
        if existing is None:
            raise
        return replay(_checked_replay(existing, fingerprint))
    except DomainError as error:
        metrics.ECONOMY_FAILURES.labels(kind, error.code).inc()
        raise
    transaction.on_commit(lambda: metrics.ECONOMY_TRANSACTIONS.labels(kind).inc())
    return result


def begin_transaction(
    *,
    kind: str,
    key: str | None,
    fingerprint: dict[str, Any],
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Insert the ledger transaction. Caller holds the locks of the use case: a same-key request
    that raced us waited on them and now sees our row (read committed) and replays it."""
    if key is not None:
        existing = find_transaction(key)
        if existing is not None:
            raise _AlreadyDone(existing)
    return LedgerTransaction.objects.create(
        kind=kind,
        idempotency_key=key,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or "",
        reason=reason[:2000],
        metadata={**(metadata or {}), "request": fingerprint},
        created_at=timezone.now(),
    )


# --- locks -------------------------------------------------------------------------------


def system_wallet_shard(character_id: int | None) -> int:
    shards = max(int(settings.ECONOMY_SYSTEM_WALLET_SHARDS), 1)
    return (character_id or 0) % shards


def ensure_inventory(character: Character) -> Inventory:
    inventory, _ = Inventory.objects.get_or_create(
        character_id=character.pk,
        defaults={"capacity": settings.ECONOMY_INVENTORY_CAPACITY},
    )
    return inventory


def ensure_wallet(character: Character, currency: str) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(
        character_id=character.pk, currency=currency, defaults={"kind": WalletKind.PLAYER}
    )
    return wallet


def ensure_system_wallet(code: str, currency: str, *, shard: int = 0) -> Wallet:
    kind = WalletKind.ISSUER if code.startswith(("mint:", "gm")) else WalletKind.SYSTEM
    wallet, _ = Wallet.objects.get_or_create(
        character=None, system_code=code, currency=currency, shard=shard, defaults={"kind": kind}
    )
    return wallet


@dataclass
class Locks:
    """What a use case holds. Items are locked separately (``lock_items``) once known."""

    inventories: dict[int, Inventory] = field(default_factory=dict)  # by character id
    wallets: dict[int, Wallet] = field(default_factory=dict)  # by wallet pk

    def wallet(self, wallet: Wallet) -> Wallet:
        return self.wallets[wallet.pk]


def lock_accounts(*, characters: Iterable[Character] = (), wallets: Iterable[Wallet] = ()) -> Locks:
    """Lock the characters' inventories, then the wallets, each in primary-key order (ADR 0031).

    Use cases that also lock an offer, trade or mail row call ``lock_accounts(characters=...)``,
    lock that row, then ``lock_wallets``. Missing inventories are created first (sorted by
    character id, so two creators never cross)."""
    by_id = {character.pk: character for character in characters}
    inventory_pks = [ensure_inventory(by_id[cid]).pk for cid in sorted(by_id)]
    locks = Locks()
    queryset = Inventory.objects.select_for_update().filter(pk__in=inventory_pks).order_by("pk")
    for inventory in queryset:
        locks.inventories[inventory.character_id] = inventory
    return lock_wallets(locks, wallets)


def lock_wallets(locks: Locks, wallets: Iterable[Wallet]) -> Locks:
    """Lock ``wallets`` (player and system alike) in primary-key order into ``locks``."""
    wallet_pks = sorted({wallet.pk for wallet in wallets} - set(locks.wallets))
    for wallet in Wallet.objects.select_for_update().filter(pk__in=wallet_pks).order_by("pk"):
        locks.wallets[wallet.pk] = wallet
    return locks


def lock_items(item_ids: Iterable[int]) -> dict[int, ItemInstance]:
    """Lock item rows in primary-key order. Caller already holds the owners' inventory locks."""
    ids = sorted(set(item_ids))
    rows = ItemInstance.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {item.pk: item for item in rows}


# --- the book: postings and movements of one transaction ---------------------------------


@dataclass(frozen=True)
class Place:
    place: str
    character_id: int | None = None
    detail: str = ""

    @classmethod
    def of(cls, item: ItemInstance) -> Place:
        detail = ""
        if item.container == ItemContainer.INVENTORY:
            detail = str(item.slot)
        elif item.container == ItemContainer.EQUIPMENT:
            detail = item.equip_slot
        elif item.container == ItemContainer.MAIL:
            detail = str(item.mail_id)
        return cls(str(item.container), item.owner_id, detail)


MINT = Place(MovementPlace.MINT)


class Book:
    """Postings and movements of one ledger transaction. Caller holds every lock touched."""

    def __init__(self, ledger_transaction: LedgerTransaction, locks: Locks) -> None:
        self.tx = ledger_transaction
        self.locks = locks
        self.postings: list[LedgerPosting] = []
        self.movements: list[ItemMovement] = []
        self._changed_wallets: dict[int, Wallet] = {}
        self.now = ledger_transaction.created_at

    # currency ----------------------------------------------------------------------------

    def post(self, wallet: Wallet, amount: int) -> Wallet:
        locked = self.locks.wallet(wallet)
        new_balance = locked.balance + amount
        if new_balance < 0 and locked.kind != WalletKind.ISSUER:
            raise InsufficientFunds(
                f"Not enough {locked.currency}: {locked.balance} available, {-amount} needed.",
                currency=locked.currency,
                available=locked.balance,
                needed=-amount,
            )
        locked.balance = new_balance
        self._changed_wallets[locked.pk] = locked
        self.postings.append(
            LedgerPosting(
                transaction=self.tx,
                wallet=locked,
                currency=locked.currency,
                amount=amount,
                balance_after=new_balance,
            )
        )
        return locked

    def transfer(self, *, source: Wallet, target: Wallet, amount: int) -> None:
        """Debit ``source`` and credit ``target``: the two postings sum to zero."""
        if source.currency != target.currency:
            raise ValueError("transfer between wallets of different currencies")
        self.post(source, -amount)
        self.post(target, amount)

    # items -------------------------------------------------------------------------------

    def record(
        self, item: ItemInstance, *, delta: int, quantity: int, source: Place, target: Place
    ) -> None:
        self.movements.append(
            ItemMovement(
                transaction=self.tx,
                item=item,
                definition_id=item.definition_id,
                delta=delta,
                quantity=quantity,
                from_place=source.place,
                from_character_id=source.character_id,
                from_detail=source.detail[:40],
                to_place=target.place,
                to_character_id=target.character_id,
                to_detail=target.detail[:40],
            )
        )

    def finish(self) -> None:
        for wallet in self._changed_wallets.values():
            wallet.save(update_fields=["balance"])
        LedgerPosting.objects.bulk_create(self.postings)
        ItemMovement.objects.bulk_create(self.movements)


# --- inventories -------------------------------------------------------------------------


class Bag:
    """The working view of one character's inventory during a use case.

    Precondition: the caller holds this character's inventory lock, so nobody else changes its
    held items until commit. Build bags with :func:`open_bags` so that bags of one use case
    share item objects (a row moved from one bag to another is the same Python object).
    Changes are saved as they are made."""

    def __init__(
        self, character: Character, inventory: Inventory, book: Book, items: dict[int, ItemInstance]
    ) -> None:
        self.character = character
        self.inventory = inventory
        self.book = book
        self._items = items

    @property
    def items(self) -> dict[int, ItemInstance]:
        """Items in this inventory now (rows that left during the use case are filtered out)."""
        return {
            pk: item
            for pk, item in self._items.items()
            if item.owner_id == self.character.pk and item.container == ItemContainer.INVENTORY
        }

    def free_slots(self) -> list[int]:
        used = {item.slot for item in self.items.values()}
        return [slot for slot in range(self.inventory.capacity) if slot not in used]

    def stacks_with_room(self, definition: ItemDef, *, bound: bool) -> list[ItemInstance]:
        return sorted(
            (
                item
                for item in self.items.values()
                if item.definition_id == definition.id
                and item.bound == bound
                and item.quantity < definition.stack_size
            ),
            key=lambda item: item.slot or 0,
        )

    def room_for(self, definition: ItemDef, quantity: int, *, bound: bool) -> bool:
        room = sum(
            definition.stack_size - item.quantity
            for item in self.stacks_with_room(definition, bound=bound)
        )
        remaining = max(quantity - room, 0)
        needed_slots = -(-remaining // definition.stack_size)
        return needed_slots <= len(self.free_slots())

    def save(self, item: ItemInstance, *fields: str) -> None:
        item.updated_at = self.book.now
        item.save(update_fields=[*fields, "updated_at"])

    def mint(self, definition: ItemDef, quantity: int) -> list[ItemInstance]:
        """Create ``quantity`` new items (loot, shop, GM): top up stacks, then free slots."""
        bound = definition.binds == "pickup"
        if not self.room_for(definition, quantity, bound=bound):
            raise InventoryFull(
                "Not enough room in the inventory.", item_id=definition.id, quantity=quantity
            )
        touched: list[ItemInstance] = []
        remaining = quantity
        for stack in self.stacks_with_room(definition, bound=bound):
            take = min(definition.stack_size - stack.quantity, remaining)
            stack.quantity += take
            self.save(stack, "quantity")
            self.book.record(stack, delta=take, quantity=take, source=MINT, target=Place.of(stack))
            touched.append(stack)
            remaining -= take
            if remaining == 0:
                return touched
        free = iter(self.free_slots())
        while remaining > 0:
            take = min(definition.stack_size, remaining)
            item = ItemInstance.objects.create(
                definition_id=definition.id,
                quantity=take,
                owner_id=self.character.pk,
                container=ItemContainer.INVENTORY,
                slot=next(free),
                bound=bound,
                created_at=self.book.now,
                updated_at=self.book.now,
            )
            self._items[item.pk] = item
            self.book.record(item, delta=take, quantity=take, source=MINT, target=Place.of(item))
            touched.append(item)
            remaining -= take
        return touched

    def receive(self, source: ItemInstance, quantity: int, definition: ItemDef) -> None:
        """Move ``quantity`` of ``source`` (locked; held by someone else or in escrow) into this
        inventory: top up matching stacks, then keep the row itself when all of the rest moves
        (so a unique item keeps its identity through trades), else split the rest off.

        Raises InventoryFull when it does not fit (callers check ``room_for`` first)."""
        origin = Place.of(source)
        remaining = quantity
        if definition.stackable:
            for stack in self.stacks_with_room(definition, bound=source.bound):
                if stack.pk == source.pk:
                    continue
                take = min(definition.stack_size - stack.quantity, remaining)
                self.shift(source, stack, take, origin)
                remaining -= take
                if remaining == 0:
                    return
        free = self.free_slots()
        if not free:
            raise InventoryFull("Not enough room in the inventory.", item_id=definition.id)
        if remaining == source.quantity:
            source.owner_id = self.character.pk
            source.container = ItemContainer.INVENTORY
            source.slot = free[0]
            source.equip_slot = ""
            source.mail_id = None
            self.save(source, "owner", "container", "slot", "equip_slot", "mail")
            self._items[source.pk] = source
            self.book.record(
                source, delta=0, quantity=remaining, source=origin, target=Place.of(source)
            )
            return
        new_stack = ItemInstance.objects.create(
            definition_id=source.definition_id,
            quantity=remaining,
            owner_id=self.character.pk,
            container=ItemContainer.INVENTORY,
            slot=free[0],
            bound=source.bound,
            created_at=self.book.now,
            updated_at=self.book.now,
        )
        self._items[new_stack.pk] = new_stack
        self.deduct(source, remaining, origin=origin, target=Place.of(new_stack))
        self.book.record(
            new_stack,
            delta=remaining,
            quantity=remaining,
            source=origin,
            target=Place.of(new_stack),
        )

    def shift(
        self, source: ItemInstance, target: ItemInstance, quantity: int, origin: Place
    ) -> None:
        """Move units between two existing rows: two movements whose deltas sum to zero."""
        target.quantity += quantity
        self.save(target, "quantity")
        self.deduct(source, quantity, origin=origin, target=Place.of(target))
        self.book.record(
            target, delta=quantity, quantity=quantity, source=origin, target=Place.of(target)
        )

    def deduct(self, item: ItemInstance, quantity: int, *, origin: Place, target: Place) -> None:
        """Take units off a row; a row left empty is kept as a MERGED record."""
        item.quantity -= quantity
        if item.quantity == 0:
            item.container = ItemContainer.MERGED
            item.slot = None
            item.equip_slot = ""
            item.mail_id = None
            self.save(item, "quantity", "container", "slot", "equip_slot", "mail")
        else:
            self.save(item, "quantity")
        self.book.record(item, delta=-quantity, quantity=quantity, source=origin, target=target)

    def take(
        self, item: ItemInstance, quantity: int, *, container: str, mail_id: int | None = None
    ) -> ItemInstance:
        """Move ``quantity`` of a held row out into ``container`` (destroyed, consumed, revoked,
        mail escrow): the whole row when all of it goes, else a split-off row. Returns the row
        now in ``container``."""
        origin = Place.of(item)
        owner_id = None if container in ESCROW_CONTAINERS else item.owner_id
        target = Place(container, owner_id, str(mail_id) if mail_id else "")
        if quantity == item.quantity:
            item.container = container
            item.slot = None
            item.equip_slot = ""
            item.owner_id = owner_id
            item.mail_id = mail_id
            self.save(item, "container", "slot", "equip_slot", "owner", "mail")
            self.book.record(item, delta=0, quantity=quantity, source=origin, target=target)
            return item
        split = ItemInstance.objects.create(
            definition_id=item.definition_id,
            quantity=quantity,
            owner_id=owner_id,
            container=container,
            mail_id=mail_id,
            bound=item.bound,
            created_at=self.book.now,
            updated_at=self.book.now,
        )
        self.deduct(item, quantity, origin=origin, target=target)
        self.book.record(split, delta=quantity, quantity=quantity, source=origin, target=target)
        return split


def open_bags(characters: Iterable[Character], locks: Locks, book: Book) -> dict[int, Bag]:
    """Lock every inventory item of ``characters`` in one primary-key-ordered query and return
    a bag per character id. Caller holds the characters' inventory locks (``lock_accounts``)."""
    by_id = {character.pk: character for character in characters}
    shared: dict[int, ItemInstance] = {
        item.pk: item
        for item in ItemInstance.objects.select_for_update()
        .filter(owner_id__in=list(by_id), container=ItemContainer.INVENTORY)
        .order_by("pk")
    }
    return {
        cid: Bag(character, locks.inventories[cid], book, shared)
        for cid, character in by_id.items()
    }


def held_item(bag: Bag, item_id: int) -> ItemInstance:
    item = bag.items.get(item_id)
    if item is None:
        raise ValidationFailed("That item is not in this inventory.", code="item_not_in_inventory")
    return item
