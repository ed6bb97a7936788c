"""The shop: idempotent purchases of content-defined offers, and GM refunds.

A purchase debits the character's wallet into the shop's revenue account and mints the items,
in one transaction. Limited stock is a counter on the offer row (locked only for limited offers,
and a CHECK constraint forbids overselling); per-account limits lock the account row so two
characters of one account cannot race past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import User
from characters.models import Character
from economy.models import (
    ItemContainer,
    ItemMovement,
    LedgerTransaction,
    Purchase,
    PurchaseState,
    ShopOffer,
    TransactionKind,
    WalletKind,
)
from economy.services._bag import open_bags
from economy.services._core import (
    Book,
    Locks,
    begin_transaction,
    check_active_character,
    check_client_key,
    check_quantity,
    ensure_system_wallet,
    ensure_wallet,
    item_definition,
    lock_accounts,
    lock_wallets,
    run_idempotent,
    system_wallet_shard,
)
from mmo_platform.errors import Conflict, NotFound, ValidationFailed

MAX_PURCHASE_QUANTITY = 100
SHOP_ACCOUNT = "shop"


@dataclass(frozen=True)
class PurchaseResult:
    purchase_id: int
    offer_id: str
    character_id: int
    quantity: int
    items_granted: int
    currency: str
    total_price: int
    balance_after: int
    state: str
    item_ids: list[int] = field(default_factory=list)
    replayed: bool = False


def _result(purchase: Purchase, *, replayed: bool) -> PurchaseResult:
    tx = purchase.transaction
    posting = tx.postings.filter(wallet__character_id=purchase.character_id).first()
    item_ids = sorted(
        set(
            ItemMovement.objects.filter(transaction=tx, delta__gt=0).values_list(
                "item_id", flat=True
            )
        )
    )
    return PurchaseResult(
        purchase_id=purchase.pk,
        offer_id=purchase.offer_id,
        character_id=purchase.character_id,
        quantity=purchase.quantity,
        items_granted=purchase.items_granted,
        currency=purchase.currency,
        total_price=purchase.total_price,
        balance_after=posting.balance_after if posting else 0,
        state=purchase.state,
        item_ids=item_ids,
        replayed=replayed,
    )


def _replay_purchase(tx: LedgerTransaction) -> PurchaseResult:
    return _result(
        Purchase.objects.select_related("transaction").get(transaction=tx), replayed=True
    )


def offer_check_on_sale(offer: ShopOffer, *, now: object = None) -> None:
    """Raise unless ``offer`` can be bought right now (enabled, in its time window, in stock)."""
    moment = now or timezone.now()
    if not offer.enabled or offer.retired:
        raise NotFound("No such offer.", code="offer_not_found")
    if offer.starts_at and moment < offer.starts_at:  # type: ignore[operator]
        raise Conflict("This offer has not started yet.", code="offer_not_started")
    if offer.ends_at and moment >= offer.ends_at:  # type: ignore[operator]
        raise Conflict("This offer has ended.", code="offer_ended")


def shop_purchase(
    *, user: User, character: Character, offer_id: str, quantity: int, idempotency_key: str
) -> PurchaseResult:
    """Buy ``quantity`` of an offer for ``character`` (owned by ``user``).

    A retry with the same key returns the first result (``replayed=True``) and never charges
    twice, also when both requests run at once. The key is scoped to the account."""
    if character.account_id != user.pk:
        raise NotFound("No such character.")
    check_quantity(quantity, maximum=MAX_PURCHASE_QUANTITY)
    key = f"{TransactionKind.SHOP}:u{user.pk}:{check_client_key(idempotency_key)}"
    fingerprint = {"character": character.pk, "offer": offer_id, "quantity": quantity}

    def work() -> PurchaseResult:
        check_active_character(character)
        offer = ShopOffer.objects.filter(pk=offer_id).first()
        if offer is None:
            raise NotFound("No such offer.", code="offer_not_found")
        offer_check_on_sale(offer)
        if offer.per_account_limit is not None:
            # Account row first (house lock order): serialises this account's limited buys.
            User.objects.select_for_update().filter(pk=user.pk).first()
        player = ensure_wallet(character, offer.currency)
        revenue = ensure_system_wallet(
            SHOP_ACCOUNT, offer.currency, shard=system_wallet_shard(character.pk)
        )
        locks = lock_accounts(characters=[character])
        if offer.stock_limit is not None:
            offer = ShopOffer.objects.select_for_update().get(pk=offer.pk)
            limit = offer.stock_limit
            if limit is not None and offer.stock_sold + quantity > limit:
                raise Conflict(
                    "Not enough stock left.", code="sold_out", stock_left=offer.stock_left
                )
        if offer.per_account_limit is not None:
            bought = (
                Purchase.objects.filter(
                    account=user, offer=offer, state=PurchaseState.COMPLETED
                ).aggregate(total=Sum("quantity"))["total"]
                or 0
            )
            if bought + quantity > offer.per_account_limit:
                raise Conflict(
                    "This account has reached the purchase limit for this offer.",
                    code="purchase_limit_reached",
                    limit=offer.per_account_limit,
                    bought=bought,
                )
        lock_wallets(locks, [player, revenue])
        tx = begin_transaction(
            kind=TransactionKind.SHOP,
            key=key,
            fingerprint=fingerprint,
            actor=user,
            reason=f"bought {quantity} x {offer.pk}",
            metadata={"offer": offer.pk},
        )
        book = Book(tx, locks)
        total = offer.price * quantity
        book.transfer(source=player, target=revenue, amount=total)
        bag = open_bags([character], locks, book)[character.pk]
        bag.mint(item_definition(offer.item_id), offer.quantity * quantity)
        if offer.stock_limit is not None:
            ShopOffer.objects.filter(pk=offer.pk).update(stock_sold=F("stock_sold") + quantity)
        purchase = Purchase.objects.create(
            account=user,
            character=character,
            offer=offer,
            quantity=quantity,
            items_granted=offer.quantity * quantity,
            currency=offer.currency,
            unit_price=offer.price,
            total_price=total,
            transaction=tx,
            created_at=book.now,
        )
        book.finish()
        # Built from what this transaction wrote: no extra queries on the hot path.
        return PurchaseResult(
            purchase_id=purchase.pk,
            offer_id=offer.pk,
            character_id=character.pk,
            quantity=quantity,
            items_granted=purchase.items_granted,
            currency=offer.currency,
            total_price=total,
            balance_after=locks.wallet(player).balance,
            state=purchase.state,
            item_ids=sorted({m.item_id for m in book.movements if m.delta > 0}),
        )

    return run_idempotent(
        kind=TransactionKind.SHOP,
        key=key,
        fingerprint=fingerprint,
        work=work,
        replay=_replay_purchase,
    )


def _refund_result(tx: LedgerTransaction) -> PurchaseResult:
    purchase = Purchase.objects.select_related("transaction").get(refund_transaction=tx)
    return _result(purchase, replayed=True)


def shop_refund(
    *,
    purchase_id: int,
    actor: User,
    reason: str,
    idempotency_key: str,
    revoke_items: bool = True,
) -> PurchaseResult:
    """GM refund: the price goes back from the shop account, and (``revoke_items``) the goods are
    taken back from the character's inventory; if they no longer hold them the refund is refused
    (``items_missing``) unless the GM refunds the price only. Returns limited stock."""
    if not reason or not reason.strip():
        raise ValidationFailed("A refund needs a reason.", code="reason_required")
    key = f"{TransactionKind.REFUND}:{check_client_key(idempotency_key)}"
    fingerprint = {"purchase": purchase_id, "revoke_items": revoke_items}

    def work() -> PurchaseResult:
        purchase = (
            Purchase.objects.select_related("character", "offer").filter(pk=purchase_id).first()
        )
        if purchase is None:
            raise NotFound("No such purchase.", code="purchase_not_found")
        character = purchase.character
        locks = lock_accounts(characters=[character])
        purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
        tx = begin_transaction(
            kind=TransactionKind.REFUND,
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            reason=reason,
            metadata={"purchase": purchase.pk, "offer": purchase.offer_id},
        )
        if purchase.state != PurchaseState.COMPLETED:
            raise Conflict("This purchase was already refunded.", code="already_refunded")
        if purchase.offer.stock_limit is not None:
            ShopOffer.objects.select_for_update().filter(pk=purchase.offer_id).first()
        revenue_posting = purchase.transaction.postings.select_related("wallet").get(
            wallet__kind=WalletKind.SYSTEM
        )
        player = ensure_wallet(character, purchase.currency)
        lock_wallets(locks, [player, revenue_posting.wallet])
        book = Book(tx, locks)
        book.transfer(source=revenue_posting.wallet, target=player, amount=purchase.total_price)
        if revoke_items:
            _revoke_goods(book, locks, character, purchase)
        if purchase.offer.stock_limit is not None:
            ShopOffer.objects.filter(pk=purchase.offer_id).update(
                stock_sold=F("stock_sold") - purchase.quantity
            )
        purchase.state = PurchaseState.REFUNDED
        purchase.refund_transaction = tx
        purchase.refunded_at = book.now
        purchase.save(update_fields=["state", "refund_transaction", "refunded_at"])
        book.finish()
        return _result(purchase, replayed=False)

    return run_idempotent(
        kind=TransactionKind.REFUND,
        key=key,
        fingerprint=fingerprint,
        work=work,
        replay=_refund_result,
    )


def _revoke_goods(book: Book, locks: Locks, character: Character, purchase: Purchase) -> None:
    bag = open_bags([character], locks, book)[character.pk]
    needed = purchase.items_granted
    stacks = sorted(
        (item for item in bag.items.values() if item.definition_id == purchase.offer.item_id),
        key=lambda item: (item.quantity, item.pk),
    )
    held = sum(item.quantity for item in stacks)
    if held < needed:
        raise Conflict(
            "The character no longer holds the purchased items (unequip them first, or refund "
            "the price only).",
            code="items_missing",
            held=held,
            needed=needed,
        )
    for item in stacks:
        take = min(item.quantity, needed)
        bag.take(item, take, container=ItemContainer.REVOKED)
        needed -= take
        if needed == 0:
            break
