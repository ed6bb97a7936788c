"""Grants and revokes: every change is a balanced ledger transaction, keys make them idempotent,
bad input is refused before anything is written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from characters.models import Character
from economy.models import LedgerPosting, LedgerTransaction, Wallet, WalletKind
from economy.selectors import inventory_get, wallet_balances
from economy.services import (
    InsufficientFunds,
    InventoryFull,
    economy_grant,
    item_grant,
    wallet_grant,
    wallet_revoke,
)
from mmo_platform.errors import Conflict, ValidationFailed
from tests.economy.conftest import Give
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _grant(character: Character, amount: int = 100, key: str = "kill-1", **kwargs: object):
    return wallet_grant(
        character=character,
        currency="gold",
        amount=amount,
        source="loot",
        actor=None,
        reason="wolf",
        idempotency_key=key,
        **kwargs,  # type: ignore[arg-type]
    )


def test_loot_grant_credits_the_wallet_from_the_loot_mint(hero: Character) -> None:
    result = _grant(hero, 100)

    assert result.balance_after == 100
    assert not result.replayed
    assert wallet_balances(character_id=hero.pk) == {"gold": 100, "gems": 0}
    tx = LedgerTransaction.objects.get(pk=result.transaction_id)
    assert tx.kind == "loot"
    amounts = sorted(tx.postings.values_list("amount", flat=True))
    assert amounts == [-100, 100]
    mint = Wallet.objects.get(kind=WalletKind.ISSUER, system_code="mint:loot")
    assert mint.balance == -100


def test_same_key_grants_once(hero: Character) -> None:
    first = _grant(hero, 100, key="kill-7")
    again = _grant(hero, 100, key="kill-7")

    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert wallet_balances(character_id=hero.pk)["gold"] == 100
    assert LedgerPosting.objects.filter(wallet__character=hero).count() == 1


def test_same_key_for_a_different_request_is_refused(hero: Character) -> None:
    _grant(hero, 100, key="kill-8")

    with pytest.raises(Conflict) as raised:
        _grant(hero, 999, key="kill-8")

    assert raised.value.code == "idempotency_key_reused"
    assert wallet_balances(character_id=hero.pk)["gold"] == 100


def test_gm_grant_records_actor_and_reason(hero: Character) -> None:
    gm = UserFactory(is_staff=True)

    result = wallet_grant(
        character=hero,
        currency="gems",
        amount=50,
        source="gm",
        actor=gm,
        reason="ticket 42: lost gems",
        idempotency_key="t42",
    )

    tx = LedgerTransaction.objects.get(pk=result.transaction_id)
    assert (tx.kind, tx.actor, tx.actor_label, tx.reason) == (
        "gm_grant",
        gm,
        gm.username,
        "ticket 42: lost gems",
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"currency": "usd"}, "unknown_currency"),
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -5}, "invalid_amount"),
        ({"amount": 10**13}, "invalid_amount"),
        ({"source": "shop"}, "unknown_source"),
        ({"idempotency_key": ""}, "idempotency_key_required"),
        ({"idempotency_key": "x" * 101}, "idempotency_key_invalid"),
    ],
)
def test_bad_grant_input_is_refused(hero: Character, kwargs: dict, code: str) -> None:
    arguments = {
        "character": hero,
        "currency": "gold",
        "amount": 10,
        "source": "loot",
        "actor": None,
        "reason": "",
        "idempotency_key": "k",
        **kwargs,
    }

    with pytest.raises(ValidationFailed) as raised:
        wallet_grant(**arguments)

    assert raised.value.code == code
    assert not LedgerTransaction.objects.exists()


def test_grant_to_deleted_character_is_refused(hero: Character) -> None:
    hero.deleted_at = timezone.now()
    hero.save()

    with pytest.raises(Conflict, match="deleted"):
        _grant(hero)


def test_item_grant_binds_on_pickup_and_stacks(hero: Character) -> None:
    item_grant(
        character=hero,
        item_id="dragonfang",
        quantity=1,
        source="loot",
        actor=None,
        reason="boss",
        idempotency_key="boss-1",
    )
    item_grant(
        character=hero,
        item_id="wolf_pelt",
        quantity=70,
        source="loot",
        actor=None,
        reason="wolves",
        idempotency_key="wolves-1",
    )

    items = {
        (i.definition_id, i.quantity, i.bound) for i in inventory_get(character_id=hero.pk).items
    }
    assert items == {("dragonfang", 1, True), ("wolf_pelt", 50, False), ("wolf_pelt", 20, False)}


def test_unknown_item_and_premium_loot_are_refused(hero: Character) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        item_grant(
            character=hero,
            item_id="nope",
            quantity=1,
            source="loot",
            actor=None,
            reason="",
            idempotency_key="a",
        )
    with pytest.raises(ValidationFailed) as premium:
        item_grant(
            character=hero,
            item_id="phoenix_cloak",
            quantity=1,
            source="loot",
            actor=None,
            reason="",
            idempotency_key="b",
        )

    assert unknown.value.code == "unknown_item"
    assert premium.value.code == "not_lootable"


def test_full_inventory_refuses_the_whole_grant(hero: Character, give: Give) -> None:
    # given a bag with every slot taken
    give(hero, items=[("iron_sword", 30)])

    # when a loot drop of gold and an item does not fit
    with pytest.raises(InventoryFull):
        economy_grant(
            character=hero,
            source="loot",
            actor=None,
            reason="chest",
            idempotency_key="chest-1",
            currency="gold",
            amount=10,
            items=[("leather_cap", 1)],
        )

    # then the gold was not credited either
    assert wallet_balances(character_id=hero.pk)["gold"] == 0


def test_revoke_takes_currency_back_but_never_below_zero(hero: Character, give: Give) -> None:
    give(hero, gold=30)
    gm = UserFactory(is_staff=True)

    wallet_revoke(
        character=hero,
        currency="gold",
        amount=20,
        actor=gm,
        reason="dupe fix",
        idempotency_key="r1",
    )
    with pytest.raises(InsufficientFunds):
        wallet_revoke(
            character=hero,
            currency="gold",
            amount=20,
            actor=gm,
            reason="again",
            idempotency_key="r2",
        )
    with pytest.raises(ValidationFailed):
        wallet_revoke(
            character=hero, currency="gold", amount=1, actor=gm, reason=" ", idempotency_key="r3"
        )

    assert wallet_balances(character_id=hero.pk)["gold"] == 10


def test_database_refuses_a_negative_player_balance(hero: Character, give: Give) -> None:
    from django.db import IntegrityError, transaction

    give(hero, gold=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(character=hero).update(balance=-1)
