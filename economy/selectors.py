"""Economy reads: balances, inventories, equipment bonuses, history, offers, trades, mail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from characters.models import Character
from economy.catalog import get_catalog
from economy.models import (
    DEFAULT_INVENTORY_CAPACITY,
    TRADE_ACTIVE_STATES,
    Currency,
    Inventory,
    ItemContainer,
    ItemInstance,
    ItemMovement,
    LedgerPosting,
    LedgerTransaction,
    Mail,
    MailState,
    Purchase,
    ShopOffer,
    Trade,
    Wallet,
    WalletKind,
)
from mmo_platform.errors import NotFound


def wallet_balances(*, character_id: int) -> dict[str, int]:
    """Every currency's balance for the character (0 where no wallet exists yet)."""
    balances = dict.fromkeys(Currency.values, 0)
    for currency, balance in Wallet.objects.filter(character_id=character_id).values_list(
        "currency", "balance"
    ):
        balances[currency] = balance
    return balances


def player_balances(*, currency: str) -> dict[int, int]:
    """Balance of every player wallet in ``currency`` by character id, in one query (the
    wealth leaderboard); characters without a wallet are absent."""
    return dict(
        Wallet.objects.filter(kind=WalletKind.PLAYER, currency=currency).values_list(
            "character_id", "balance"
        )
    )


@dataclass(frozen=True)
class InventoryView:
    capacity: int
    items: list[ItemInstance]
    equipped: list[ItemInstance]


def inventory_get(*, character_id: int) -> InventoryView:
    capacity = (
        Inventory.objects.filter(character_id=character_id)
        .values_list("capacity", flat=True)
        .first()
    )
    rows = list(
        ItemInstance.objects.filter(
            owner_id=character_id,
            container__in=[ItemContainer.INVENTORY, ItemContainer.EQUIPMENT],
        ).order_by("container", "slot", "equip_slot", "pk")
    )
    return InventoryView(
        capacity=capacity or DEFAULT_INVENTORY_CAPACITY,
        items=[item for item in rows if item.container == ItemContainer.INVENTORY],
        equipped=[item for item in rows if item.container == ItemContainer.EQUIPMENT],
    )


def equipment_stat_bonus(*, character_id: int) -> dict[str, int]:
    """Sum of the stats of everything the character wears (one query, definitions from the
    in-memory catalog). The world adds it to base stats on join and on ``character.changed``."""
    catalog = get_catalog()
    bonus: Counter[str] = Counter()
    equipped = ItemInstance.objects.filter(
        owner_id=character_id, container=ItemContainer.EQUIPMENT
    ).values_list("definition_id", flat=True)
    for definition_id in equipped:
        definition = catalog.items.get(definition_id)
        if definition is not None:
            bonus.update(definition.stats)
    return dict(bonus)


def ledger_for_character(*, character_id: int) -> QuerySet[LedgerTransaction]:
    """Every ledger transaction that moved currency or items of the character, newest first."""
    wallet_tx = LedgerPosting.objects.filter(wallet__character_id=character_id).values(
        "transaction_id"
    )
    item_tx = ItemMovement.objects.filter(
        Q(from_character_id=character_id) | Q(to_character_id=character_id)
    ).values("transaction_id")
    return LedgerTransaction.objects.filter(Q(pk__in=wallet_tx) | Q(pk__in=item_tx)).order_by(
        "-created_at", "-pk"
    )


def postings_for_character(*, character_id: int) -> QuerySet[LedgerPosting]:
    return (
        LedgerPosting.objects.filter(wallet__character_id=character_id)
        .select_related("transaction", "wallet")
        .order_by("-transaction__created_at", "-pk")
    )


def movements_for_character(*, character_id: int) -> QuerySet[ItemMovement]:
    return (
        ItemMovement.objects.filter(
            Q(from_character_id=character_id) | Q(to_character_id=character_id)
        )
        .select_related("transaction", "definition")
        .order_by("-transaction__created_at", "-pk")
    )


def offers_on_sale(*, now: datetime | None = None) -> QuerySet[ShopOffer]:
    moment = now or timezone.now()
    return (
        ShopOffer.objects.filter(enabled=True, retired=False)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=moment))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=moment))
        .select_related("item")
        .order_by("currency", "price", "id")
    )


def purchases_for_account(*, user: User) -> QuerySet[Purchase]:
    return Purchase.objects.filter(account=user).select_related("offer", "character")


def trade_get_for_character(*, character: Character, trade_id: int) -> Trade:
    trade = (
        Trade.objects.filter(pk=trade_id)
        .filter(Q(character_a=character) | Q(character_b=character))
        .select_related("character_a", "character_b")
        .prefetch_related("lines__item")
        .first()
    )
    if trade is None:
        raise NotFound("No such trade.", code="trade_not_found")
    return trade


def trades_active_for(*, character: Character) -> QuerySet[Trade]:
    return (
        Trade.objects.filter(Q(character_a=character) | Q(character_b=character))
        .filter(state__in=TRADE_ACTIVE_STATES)
        .select_related("character_a", "character_b")
        .prefetch_related("lines__item")
    )


def mail_inbox(*, character: Character) -> QuerySet[Mail]:
    return (
        Mail.objects.filter(recipient=character, state__in=[MailState.SENT, MailState.RETURNED])
        .select_related("sender")
        .prefetch_related("items")
        .order_by("-created_at", "-pk")
    )
