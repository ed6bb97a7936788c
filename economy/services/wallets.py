"""Grants and revokes: currency and items entering (loot, GM) or leaving (GM) the economy.

Callers: the combat/loot code (``source="loot"``), the GM console (``source="gm"``). The caller
supplies an idempotency key that names the event (e.g. ``f"kill:{encounter_id}:{character_id}"``)
so a retried loot roll or a double-clicked GM form grants once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accounts.models import User
from characters.models import Character
from economy.models import ItemMovement, LedgerTransaction, TransactionKind
from economy.services._bag import open_bags
from economy.services._core import (
    Book,
    begin_transaction,
    check_active_character,
    check_amount,
    check_client_key,
    check_currency,
    check_quantity,
    ensure_system_wallet,
    ensure_wallet,
    item_definition,
    lock_accounts,
    run_idempotent,
    system_wallet_shard,
)
from mmo_platform.errors import ValidationFailed

# source → (ledger kind, issuer account the value comes from)
GRANT_SOURCES: dict[str, tuple[str, str]] = {
    "loot": (TransactionKind.LOOT, "mint:loot"),
    "gm": (TransactionKind.GM_GRANT, "gm"),
}


@dataclass(frozen=True)
class GrantResult:
    transaction_id: int
    character_id: int
    currency: str | None
    amount: int
    balance_after: int | None
    item_ids: list[int] = field(default_factory=list)
    replayed: bool = False


def _result_from(tx: LedgerTransaction, character_id: int, *, replayed: bool) -> GrantResult:
    posting = tx.postings.filter(wallet__character_id=character_id).first()
    item_ids = sorted(
        set(
            ItemMovement.objects.filter(
                transaction=tx, to_character_id=character_id, delta__gt=0
            ).values_list("item_id", flat=True)
        )
    )
    return GrantResult(
        transaction_id=tx.pk,
        character_id=character_id,
        currency=posting.currency if posting else None,
        amount=abs(posting.amount) if posting else 0,
        balance_after=posting.balance_after if posting else None,
        item_ids=item_ids,
        replayed=replayed,
    )


def economy_grant(
    *,
    character: Character,
    source: str,
    actor: User | None,
    reason: str,
    idempotency_key: str,
    currency: str | None = None,
    amount: int = 0,
    items: Sequence[tuple[str, int]] = (),
) -> GrantResult:
    """Give ``character`` currency and/or items from ``source`` ("loot" or "gm") in one
    transaction: all of it or nothing (InventoryFull leaves the wallet untouched too)."""
    if source not in GRANT_SOURCES:
        raise ValidationFailed(f"Unknown grant source {source!r}.", code="unknown_source")
    kind, issuer_code = GRANT_SOURCES[source]
    key = f"{kind}:{check_client_key(idempotency_key)}"
    if currency is not None:
        check_currency(currency)
        check_amount(amount)
    elif amount:
        raise ValidationFailed("amount needs a currency.", code="invalid_amount")
    wanted = [(item_definition(item_id), check_quantity(qty)) for item_id, qty in items]
    if currency is None and not wanted:
        raise ValidationFailed("Nothing to grant.", code="empty_grant")
    for definition, _ in wanted:
        if source == "loot" and definition.type == "cosmetic" and not definition.tradable:
            raise ValidationFailed("Premium cosmetics cannot drop as loot.", code="not_lootable")
    fingerprint: dict[str, Any] = {
        "character": character.pk,
        "currency": currency,
        "amount": amount,
        "items": [[definition.id, qty] for definition, qty in wanted],
    }

    def work() -> GrantResult:
        check_active_character(character)
        wallets = []
        if currency is not None:
            player = ensure_wallet(character, currency)
            issuer = ensure_system_wallet(
                issuer_code, currency, shard=system_wallet_shard(character.pk)
            )
            wallets = [player, issuer]
        locks = lock_accounts(characters=[character], wallets=wallets)
        tx = begin_transaction(
            kind=kind, key=key, fingerprint=fingerprint, actor=actor, reason=reason
        )
        book = Book(tx, locks)
        if currency is not None:
            book.transfer(source=wallets[1], target=wallets[0], amount=amount)
        bag = open_bags([character], locks, book)[character.pk]
        for definition, quantity in wanted:
            bag.mint(definition, quantity)
        book.finish()
        return _result_from(tx, character.pk, replayed=False)

    return run_idempotent(
        kind=kind,
        key=key,
        fingerprint=fingerprint,
        work=work,
        replay=lambda tx: _result_from(tx, character.pk, replayed=True),
    )


def wallet_grant(
    *,
    character: Character,
    currency: str,
    amount: int,
    source: str,
    actor: User | None,
    reason: str,
    idempotency_key: str,
) -> GrantResult:
    """Credit ``amount`` of ``currency`` from the ``source`` issuer ("loot" or "gm")."""
    return economy_grant(
        character=character,
        source=source,
        actor=actor,
        reason=reason,
        idempotency_key=idempotency_key,
        currency=currency,
        amount=amount,
    )


def item_grant(
    *,
    character: Character,
    item_id: str,
    quantity: int,
    source: str,
    actor: User | None,
    reason: str,
    idempotency_key: str,
) -> GrantResult:
    """Create ``quantity`` of ``item_id`` in the character's inventory (InventoryFull when it
    does not fit)."""
    return economy_grant(
        character=character,
        source=source,
        actor=actor,
        reason=reason,
        idempotency_key=idempotency_key,
        items=[(item_id, quantity)],
    )


def wallet_revoke(
    *,
    character: Character,
    currency: str,
    amount: int,
    actor: User,
    reason: str,
    idempotency_key: str,
) -> GrantResult:
    """GM correction: take currency back into the GM account (InsufficientFunds if it is not
    there: a balance never goes negative, not even by GM action)."""
    check_currency(currency)
    check_amount(amount)
    if not reason.strip():
        raise ValidationFailed("A GM revoke needs a reason.", code="reason_required")
    key = f"{TransactionKind.GM_REVOKE}:{check_client_key(idempotency_key)}"
    fingerprint = {"character": character.pk, "currency": currency, "amount": amount}

    def work() -> GrantResult:
        player = ensure_wallet(character, currency)
        issuer = ensure_system_wallet("gm", currency, shard=system_wallet_shard(character.pk))
        locks = lock_accounts(characters=[character], wallets=[player, issuer])
        tx = begin_transaction(
            kind=TransactionKind.GM_REVOKE,
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            reason=reason,
        )
        book = Book(tx, locks)
        book.transfer(source=player, target=issuer, amount=amount)
        book.finish()
        return _result_from(tx, character.pk, replayed=False)

    return run_idempotent(
        kind=TransactionKind.GM_REVOKE,
        key=key,
        fingerprint=fingerprint,
        work=work,
        replay=lambda tx: _result_from(tx, character.pk, replayed=True),
    )


__all__ = [
    "GRANT_SOURCES",
    "GrantResult",
    "economy_grant",
    "item_grant",
    "wallet_grant",
    "wallet_revoke",
]
