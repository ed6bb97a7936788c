"""Player trades: propose → accept → both set offers → both lock → both confirm → one swap.

State machine (``Trade.state``)::

    proposed ──accept──▶ open ──lock a──▶ locked_a ──lock b──▶ both_locked ──2 confirms──▶ completed
                           └──lock b──▶ locked_b ──lock a──┘
    any active state ──cancel / player left / swap check failed──▶ cancelled

Changing an offer bumps that side's version and clears both locks (back to ``open``): a lock
is consent to exactly the offers it saw. The first lock snapshots the offered item rows; the
swap (the second confirm) runs in ONE transaction holding both inventories, the trade row, both
wallets and all items in primary-key order, and cancels the trade instead of swapping if an
offer version, an item row (owner, place, quantity, bound) or a balance changed since. The
swap's ledger key is ``trade:<id>``, so a trade can complete at most once.

The world adapter calls :func:`trade_cancel_for_character` when a player disconnects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from characters.models import Character
from economy.events import publish_character_changed_on_commit
from economy.models import (
    TRADE_ACTIVE_STATES,
    ItemContainer,
    ItemInstance,
    Trade,
    TradeLine,
    TradeState,
    TransactionKind,
    Wallet,
)
from economy.services._bag import Bag, open_bags
from economy.services._core import (
    Book,
    InsufficientFunds,
    InventoryFull,
    Locks,
    begin_transaction,
    check_active_character,
    check_amount,
    check_currency,
    check_quantity,
    ensure_accounts,
    ensure_wallet,
    item_definition,
    lock_accounts,
    lock_wallets,
)
from mmo_platform import metrics
from mmo_platform.errors import Conflict, NotFound, ValidationFailed


def _notify(trade: Trade) -> None:
    for character_id in (trade.character_a_id, trade.character_b_id):
        publish_character_changed_on_commit(character_id, "trade")


def _touch(trade: Trade, *fields: str) -> None:
    trade.updated_at = timezone.now()
    trade.save(update_fields=[*fields, "updated_at"])
    _notify(trade)


def _locked_trade(character: Character, trade_id: int) -> tuple[Trade, str]:
    """Lock the trade row; NotFound unless ``character`` is one of its two sides."""
    trade = Trade.objects.select_for_update().filter(pk=trade_id).first()
    side = trade.side_of(character.pk) if trade else None
    if trade is None or side is None:
        raise NotFound("No such trade.", code="trade_not_found")
    return trade, side


def _require_state(trade: Trade, *states: str) -> None:
    if trade.state not in states:
        raise Conflict(
            f"The trade is {trade.state}; this needs {' or '.join(states)}.",
            code="trade_wrong_state",
            state=trade.state,
        )


def _find_partner(initiator: Character, partner_name: str) -> Character:
    name_key = (partner_name or "").strip().casefold()
    partner = Character.objects.filter(
        realm_id=initiator.realm_id,
        name_key=name_key,
        deleted_at__isnull=True,
        purged_at__isnull=True,
    ).first()
    if partner is None:
        raise NotFound("No character of that name in this realm.", code="character_not_found")
    if partner.pk == initiator.pk:
        raise ValidationFailed("You cannot trade with yourself.", code="cannot_trade_self")
    return partner


def trade_open(*, initiator: Character, partner_name: str) -> Trade:
    """Propose a trade to the character called ``partner_name`` in the initiator's realm."""
    check_active_character(initiator)
    partner = _find_partner(initiator, partner_name)
    with transaction.atomic():
        # Both inventories locked: no second trade for either can be opened concurrently.
        lock_accounts(characters=[initiator, partner])
        busy = Trade.objects.filter(
            Q(character_a__in=[initiator.pk, partner.pk])
            | Q(character_b__in=[initiator.pk, partner.pk]),
            state__in=TRADE_ACTIVE_STATES,
        ).exists()
        if busy:
            raise Conflict("One of you is already trading.", code="already_trading")
        now = timezone.now()
        trade = Trade.objects.create(
            character_a=initiator,
            character_b=partner,
            state=TradeState.PROPOSED,
            created_at=now,
            updated_at=now,
        )
        _notify(trade)
    return trade


def trade_accept(*, character: Character, trade_id: int) -> Trade:
    """The invited partner accepts: the trade window opens."""
    with transaction.atomic():
        trade, side = _locked_trade(character, trade_id)
        if side != "b":
            raise Conflict("Only the invited player can accept.", code="not_invited")
        _require_state(trade, TradeState.PROPOSED)
        trade.state = TradeState.OPEN
        _touch(trade, "state")
    return trade


def _check_offer_items(
    character: Character, items: Sequence[tuple[int, int]]
) -> list[tuple[ItemInstance, int]]:
    seen: set[int] = set()
    checked = []
    for item_id, quantity in items:
        check_quantity(quantity)
        if item_id in seen:
            raise ValidationFailed("An item is listed twice.", code="duplicate_item")
        seen.add(item_id)
        item = ItemInstance.objects.filter(
            pk=item_id, owner_id=character.pk, container=ItemContainer.INVENTORY
        ).first()
        if item is None:
            raise ValidationFailed(
                "That item is not in your inventory.", code="item_not_in_inventory", item=item_id
            )
        _check_tradable(item)
        if quantity > item.quantity:
            raise ValidationFailed(
                "The stack holds fewer than that.", code="invalid_quantity", item=item_id
            )
        checked.append((item, quantity))
    return checked


def _check_tradable(item: ItemInstance) -> None:
    if item.bound:
        raise ValidationFailed("Bound items cannot be traded.", code="item_bound", item=item.pk)
    if not item_definition(item.definition_id).tradable:
        raise ValidationFailed(
            "This item cannot be traded.", code="item_not_tradable", item=item.pk
        )


def trade_set_offer(
    *,
    character: Character,
    trade_id: int,
    items: Sequence[tuple[int, int]] = (),
    currency: Mapping[str, int] | None = None,
) -> Trade:
    """Replace this side's offer with ``items`` [(item id, quantity)] and ``currency``
    {currency: amount}. Clears both locks. Bound and non-tradable items are refused."""
    currency = dict(currency or {})
    if len(items) + len(currency) > settings.ECONOMY_TRADE_MAX_LINES:
        raise ValidationFailed(
            f"At most {settings.ECONOMY_TRADE_MAX_LINES} entries per offer.", code="too_many_lines"
        )
    for code, amount in currency.items():
        check_currency(code)
        check_amount(amount)
    check_active_character(character)
    with transaction.atomic():
        trade, side = _locked_trade(character, trade_id)
        _require_state(
            trade, TradeState.OPEN, TradeState.LOCKED_A, TradeState.LOCKED_B, TradeState.BOTH_LOCKED
        )
        if trade.state in (TradeState.BOTH_LOCKED, f"locked_{side}"):
            raise Conflict(
                "You locked your offer; cancel the trade to change it.", code="offer_locked"
            )
        checked = _check_offer_items(character, items)
        for code, amount in currency.items():
            balance = ensure_wallet(character, code).balance
            if balance < amount:
                raise ValidationFailed(
                    f"Not enough {code}.", code="insufficient_funds", available=balance
                )
        TradeLine.objects.filter(trade=trade, side=side).delete()
        TradeLine.objects.bulk_create(
            [TradeLine(trade=trade, side=side, item=item, quantity=qty) for item, qty in checked]
            + [TradeLine(trade=trade, side=side, currency=c, amount=a) for c, a in currency.items()]
        )
        setattr(trade, f"version_{side}", getattr(trade, f"version_{side}") + 1)
        trade.state = TradeState.OPEN
        trade.locked_versions = None
        trade.lock_snapshot = None
        trade.confirmed_a = trade.confirmed_b = False
        _touch(
            trade,
            f"version_{side}",
            "state",
            "locked_versions",
            "lock_snapshot",
            "confirmed_a",
            "confirmed_b",
        )
    return trade


def _snapshot(trade: Trade) -> dict[str, Any]:
    lines = TradeLine.objects.filter(trade=trade, item__isnull=False).select_related("item")
    return {str(line.item_id): _item_state(line.item) for line in lines if line.item is not None}


def _item_state(item: ItemInstance) -> list[Any]:
    return [item.owner_id, item.container, item.quantity, item.bound]


def trade_lock(*, character: Character, trade_id: int) -> Trade:
    """Lock this side's consent to both current offers."""
    with transaction.atomic():
        trade, side = _locked_trade(character, trade_id)
        other = "b" if side == "a" else "a"
        _require_state(trade, TradeState.OPEN, f"locked_{other}")
        if not trade.lines.exists():
            raise Conflict("Both offers are empty.", code="trade_empty")
        if trade.state == TradeState.OPEN:
            trade.state = f"locked_{side}"
            trade.locked_versions = [trade.version_a, trade.version_b]
            trade.lock_snapshot = _snapshot(trade)
        else:
            trade.state = TradeState.BOTH_LOCKED
        _touch(trade, "state", "locked_versions", "lock_snapshot")
    return trade


def trade_cancel(*, character: Character, trade_id: int, reason: str = "cancelled") -> Trade:
    """Either side cancels an active trade. Nothing has moved, so nothing moves back."""
    with transaction.atomic():
        trade, _ = _locked_trade(character, trade_id)
        _require_state(trade, *TRADE_ACTIVE_STATES)
        _cancel(trade, reason)
    return trade


def _cancel(trade: Trade, reason: str) -> None:
    trade.state = TradeState.CANCELLED
    trade.cancel_reason = reason[:200]
    _touch(trade, "state", "cancel_reason")


def trade_cancel_for_character(character_id: int, *, reason: str = "left") -> int:
    """Cancel every active trade of a character (the world calls this on disconnect).
    Returns how many were cancelled."""
    cancelled = 0
    with transaction.atomic():
        trades = (
            Trade.objects.select_for_update()
            .filter(Q(character_a_id=character_id) | Q(character_b_id=character_id))
            .filter(state__in=TRADE_ACTIVE_STATES)
            .order_by("pk")
        )
        for trade in trades:
            _cancel(trade, reason)
            cancelled += 1
    return cancelled


def trade_expire_stale(*, now: datetime | None = None) -> int:
    """Cancel active trades nobody touched for ``ECONOMY_TRADE_TIMEOUT_MINUTES`` (a player who
    walked away without the world noticing). Returns how many were cancelled."""
    moment = now or timezone.now()
    cutoff = moment - timedelta(minutes=settings.ECONOMY_TRADE_TIMEOUT_MINUTES)
    cancelled = 0
    with transaction.atomic():
        stale = (
            Trade.objects.select_for_update(skip_locked=True)
            .filter(state__in=TRADE_ACTIVE_STATES, updated_at__lt=cutoff)
            .order_by("pk")
        )
        for trade in stale:
            _cancel(trade, "expired")
            cancelled += 1
    return cancelled


def trade_confirm(*, character: Character, trade_id: int) -> Trade:
    """Confirm the locked trade. The second confirmation performs the swap; if anything changed
    since the lock the trade is cancelled (committed) and Conflict ``trade_cancelled`` raised.

    Call it outside a transaction (as the API and the world adapter do): inside a caller's
    ``atomic()`` the raised Conflict would roll the cancellation back with the caller's block."""
    problem: str | None = None
    with transaction.atomic():
        peek = Trade.objects.filter(pk=trade_id).only("character_a", "character_b").first()
        if peek is None or peek.side_of(character.pk) is None:
            raise NotFound("No such trade.", code="trade_not_found")
        both = list(
            Character.objects.filter(pk__in=[peek.character_a_id, peek.character_b_id]).order_by(
                "pk"
            )
        )
        ensure_accounts(both)  # wallets the swap may need exist before any lock (ADR 0031)
        locks = lock_accounts(characters=both)
        trade, side = _locked_trade(character, trade_id)
        _require_state(trade, TradeState.BOTH_LOCKED)
        setattr(trade, f"confirmed_{side}", True)
        if not (trade.confirmed_a and trade.confirmed_b):
            _touch(trade, f"confirmed_{side}")
            return trade
        problem = _swap(trade, {c.pk: c for c in both}, locks)
        if problem is not None:
            _cancel(trade, problem)
    if problem is not None:
        metrics.ECONOMY_FAILURES.labels(TransactionKind.TRADE, problem).inc()
        raise Conflict(
            f"The trade was cancelled: {problem.replace('_', ' ')}.",
            code="trade_cancelled",
            reason=problem,
        )
    transaction.on_commit(lambda: metrics.ECONOMY_TRANSACTIONS.labels(TransactionKind.TRADE).inc())
    trade.refresh_from_db()
    return trade


class _CancelSwap(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _swap(trade: Trade, characters: dict[int, Character], locks: Locks) -> str | None:
    """The swap. Caller holds both inventories and the trade row. Returns the reason to cancel
    instead (nothing of the swap is kept then), or None when everything moved."""
    side_character = {"a": characters[trade.character_a_id], "b": characters[trade.character_b_id]}
    if any(c.deleted_at is not None or c.purged_at is not None for c in characters.values()):
        return "character_deleted"
    if trade.locked_versions != [trade.version_a, trade.version_b]:
        return "offer_changed"
    lines = list(TradeLine.objects.filter(trade=trade).order_by("pk"))
    wallets: dict[tuple[int, str], Wallet] = {}
    for line in lines:
        if line.item_id is None:
            for c in side_character.values():
                wallets[(c.pk, line.currency)] = ensure_wallet(c, line.currency)
    lock_wallets(locks, wallets.values())
    try:
        with transaction.atomic():
            tx = begin_transaction(
                kind=TransactionKind.TRADE,
                key=f"trade:{trade.pk}",
                fingerprint={"trade": trade.pk},
                reason=f"trade #{trade.pk}",
                metadata={"trade": trade.pk},
            )
            book = Book(tx, locks)
            bags = open_bags(side_character.values(), locks, book)
            outgoing = _check_lines(trade, lines, bags, side_character, locks, wallets)
            _move_everything(book, bags, side_character, outgoing, lines, wallets)
            book.finish()
    except _CancelSwap as cancel:
        return cancel.reason
    except InventoryFull:
        return "inventory_full"
    except InsufficientFunds:
        return "insufficient_funds"
    trade.state = TradeState.COMPLETED
    trade.transaction = tx
    trade.completed_at = book.now
    _touch(trade, "state", "confirmed_a", "confirmed_b", "transaction", "completed_at")
    return None


def _check_lines(
    trade: Trade,
    lines: list[TradeLine],
    bags: dict[int, Bag],
    side_character: dict[str, Character],
    locks: Locks,
    wallets: dict[tuple[int, str], Wallet],
) -> list[tuple[str, ItemInstance, int]]:
    """Re-check every line against the lock snapshot; raise _CancelSwap on any change."""
    snapshot = trade.lock_snapshot or {}
    outgoing: list[tuple[str, ItemInstance, int]] = []
    for line in lines:
        if line.item_id is None:
            wallet = locks.wallet(wallets[(side_character[line.side].pk, line.currency)])
            if wallet.balance < line.amount:
                raise _CancelSwap("insufficient_funds")
            continue
        item = bags[side_character[line.side].pk].items.get(line.item_id)
        if item is None or snapshot.get(str(line.item_id)) != _item_state(item):
            raise _CancelSwap("items_changed")
        if item.bound or not item_definition(item.definition_id).tradable:
            raise _CancelSwap("item_bound")
        outgoing.append((line.side, item, line.quantity))
    return outgoing


def _move_everything(
    book: Book,
    bags: dict[int, Bag],
    side_character: dict[str, Character],
    outgoing: list[tuple[str, ItemInstance, int]],
    lines: list[TradeLine],
    wallets: dict[tuple[int, str], Wallet],
) -> None:
    # Currency: debits first (each was checked to be covered), then credits.
    currency_lines = [line for line in lines if line.item_id is None]
    for line in currency_lines:
        book.post(wallets[(side_character[line.side].pk, line.currency)], -line.amount)
    for line in currency_lines:
        receiver = side_character["b" if line.side == "a" else "a"]
        book.post(wallets[(receiver.pk, line.currency)], line.amount)
    # Items: out of both bags into trade escrow first, so slots freed by one side's outgoing
    # items are available for its incoming ones.
    in_escrow = []
    for side, item, quantity in outgoing:
        giver = bags[side_character[side].pk]
        in_escrow.append(
            (side, giver.take(item, quantity, container=ItemContainer.TRADE), quantity)
        )
    for side, escrowed, quantity in in_escrow:
        receiver_bag = bags[side_character["b" if side == "a" else "a"].pk]
        receiver_bag.receive(escrowed, quantity, item_definition(escrowed.definition_id))
