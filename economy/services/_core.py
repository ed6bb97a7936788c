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
MAX_QUANTITY = 10**6
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


def check_quantity(quantity: int, *, maximum: int = MAX_QUANTITY) -> int:
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


def ensure_accounts(characters: Iterable[Character]) -> None:
    """Create missing inventories and wallets, always in one order (characters by id; the
    inventory, then each currency), and before the use case takes any lock: an uncommitted
    insert blocks a twin inserter until commit, so creating rows after locks could deadlock."""
    for character in sorted(characters, key=lambda c: c.pk):
        Inventory.objects.get_or_create(
            character_id=character.pk,
            defaults={"capacity": settings.ECONOMY_INVENTORY_CAPACITY},
        )
        for currency in Currency.values:
            Wallet.objects.get_or_create(
                character_id=character.pk, currency=currency, defaults={"kind": WalletKind.PLAYER}
            )


def ensure_wallet(character: Character, currency: str) -> Wallet:
    wallet = Wallet.objects.filter(character_id=character.pk, currency=currency).first()
    if wallet is None:
        ensure_accounts([character])
        wallet = Wallet.objects.get(character_id=character.pk, currency=currency)
    return wallet


def ensure_system_wallet(code: str, currency: str, *, shard: int = 0) -> Wallet:
    kind = WalletKind.ISSUER if code.startswith(("mint:", "gm")) else WalletKind.SYSTEM
    wallet, _ = Wallet.objects.get_or_create(
        character=None, system_code=code, currency=currency, shard=shard, defaults={"kind": kind}
    )
    return wallet


@dataclass
class Locks:
    """What a use case holds. Item rows are locked by ``_bag.open_bags`` once known."""

    inventories: dict[int, Inventory] = field(default_factory=dict)  # by character id
    wallets: dict[int, Wallet] = field(default_factory=dict)  # by wallet pk

    def wallet(self, wallet: Wallet) -> Wallet:
        return self.wallets[wallet.pk]


def lock_accounts(*, characters: Iterable[Character] = (), wallets: Iterable[Wallet] = ()) -> Locks:
    """Lock the characters' inventories, then the wallets, each in primary-key order (ADR 0031).

    Use cases that also lock an offer, trade or mail row call ``lock_accounts(characters=...)``,
    lock that row, then ``lock_wallets``. A character's first use case creates its rows before
    any lock is taken (``ensure_accounts``)."""
    by_id = {character.pk: character for character in characters}
    existing = set(
        Inventory.objects.filter(character_id__in=list(by_id)).values_list(
            "character_id", flat=True
        )
    )
    if len(existing) < len(by_id):
        ensure_accounts(c for cid, c in by_id.items() if cid not in existing)
    locks = Locks()
    queryset = (
        Inventory.objects.select_for_update().filter(character_id__in=list(by_id)).order_by("pk")
    )
    for inventory in queryset:
        locks.inventories[inventory.character_id] = inventory
    return lock_wallets(locks, wallets)


def lock_wallets(locks: Locks, wallets: Iterable[Wallet]) -> Locks:
    """Lock ``wallets`` (player and system alike) in primary-key order into ``locks``."""
    wallet_pks = sorted({wallet.pk for wallet in wallets} - set(locks.wallets))
    for wallet in Wallet.objects.select_for_update().filter(pk__in=wallet_pks).order_by("pk"):
        locks.wallets[wallet.pk] = wallet
    return locks


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
