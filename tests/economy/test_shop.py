"""Shop: purchases charge once per idempotency key, limited stock / time / per-account limits
hold, GM refunds go through the same ledger and are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from characters.models import Character
from economy.models import ItemContainer, LedgerTransaction, Purchase, ShopOffer
from economy.selectors import inventory_get, wallet_balances
from economy.services import InsufficientFunds, economy_reconcile, shop_purchase, shop_refund
from mmo_platform.errors import Conflict, NotFound, ValidationFailed
from tests.characters.factories import CharacterFactory
from tests.economy.conftest import Give
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _buy(character: Character, offer: str = "potion_pack", quantity: int = 1, key: str = "k1"):
    return shop_purchase(
        user=character.account,
        character=character,
        offer_id=offer,
        quantity=quantity,
        idempotency_key=key,
    )


def _held(character: Character, item_id: str) -> int:
    return sum(
        i.quantity
        for i in inventory_get(character_id=character.pk).items
        if i.definition_id == item_id
    )


def test_purchase_charges_and_delivers(hero: Character, give: Give) -> None:
    give(hero, gold=100)

    result = _buy(hero, "potion_pack", quantity=2)

    assert (result.total_price, result.balance_after, result.items_granted) == (24, 76, 10)
    assert _held(hero, "minor_healing_potion") == 10
    tx = LedgerTransaction.objects.get(pk=Purchase.objects.get().transaction_id)
    assert (tx.kind, tx.actor) == ("shop", hero.account)
    assert economy_reconcile().ok


def test_retry_with_same_key_returns_first_result_and_charges_once(
    hero: Character, give: Give
) -> None:
    give(hero, gold=100)

    first = _buy(hero, key="retry-me")
    second = _buy(hero, key="retry-me")

    assert second.replayed and not first.replayed
    assert second.purchase_id == first.purchase_id
    assert second.balance_after == first.balance_after == 88
    assert wallet_balances(character_id=hero.pk)["gold"] == 88
    assert Purchase.objects.count() == 1


def test_same_key_for_another_offer_is_refused(hero: Character, give: Give) -> None:
    give(hero, gold=100)
    _buy(hero, "potion_pack", key="k")

    with pytest.raises(Conflict) as raised:
        _buy(hero, "mana_potion", key="k")

    assert raised.value.code == "idempotency_key_reused"


def test_keys_are_scoped_per_account(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=100)
    give(other, gold=100)

    _buy(hero, key="same")
    theirs = _buy(other, key="same")

    assert not theirs.replayed
    assert Purchase.objects.count() == 2


def test_insufficient_funds_charges_nothing_and_a_retry_can_succeed(
    hero: Character, give: Give
) -> None:
    give(hero, gold=10)

    with pytest.raises(InsufficientFunds):
        _buy(hero, key="poor")
    assert _held(hero, "minor_healing_potion") == 0

    give(hero, gold=10)
    assert not _buy(hero, key="poor").replayed


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"offer_id": "nope"}, NotFound, "offer_not_found"),
        ({"quantity": 0}, ValidationFailed, "invalid_quantity"),
        ({"quantity": 101}, ValidationFailed, "invalid_quantity"),
        ({"idempotency_key": ""}, ValidationFailed, "idempotency_key_required"),
    ],
)
def test_bad_purchases(hero: Character, give: Give, kwargs: dict, error: type, code: str) -> None:
    give(hero, gold=100)
    arguments = {
        "user": hero.account,
        "character": hero,
        "offer_id": "potion_pack",
        "quantity": 1,
        "idempotency_key": "k",
        **kwargs,
    }

    with pytest.raises(error) as raised:
        shop_purchase(**arguments)

    assert raised.value.code == code


def test_cannot_buy_for_another_players_character(hero: Character, other: Character) -> None:
    with pytest.raises(NotFound):
        shop_purchase(
            user=other.account,
            character=hero,
            offer_id="potion_pack",
            quantity=1,
            idempotency_key="k",
        )


def test_disabled_and_time_limited_offers(hero: Character, give: Give) -> None:
    give(hero, gems=10_000)
    now = timezone.now()
    ShopOffer.objects.filter(pk="crown_of_stars").update(enabled=False)
    ShopOffer.objects.filter(pk="phoenix_cloak").update(starts_at=now + timedelta(days=1))
    ShopOffer.objects.filter(pk="royal_garb").update(ends_at=now - timedelta(seconds=1))

    with pytest.raises(NotFound):
        _buy(hero, "crown_of_stars", key="a")
    with pytest.raises(Conflict) as not_started:
        _buy(hero, "phoenix_cloak", key="b")
    with pytest.raises(Conflict) as ended:
        _buy(hero, "royal_garb", key="c")

    assert not_started.value.code == "offer_not_started"
    assert ended.value.code == "offer_ended"
    assert wallet_balances(character_id=hero.pk)["gems"] == 10_000


def test_limited_stock_sells_out(hero: Character, give: Give) -> None:
    give(hero, gold=10_000)
    ShopOffer.objects.filter(pk="elixir_of_might_limited").update(
        stock_limit=2, per_account_limit=None
    )

    _buy(hero, "elixir_of_might_limited", quantity=2, key="a")
    with pytest.raises(Conflict) as raised:
        _buy(hero, "elixir_of_might_limited", key="b")

    assert raised.value.code == "sold_out"
    assert ShopOffer.objects.get(pk="elixir_of_might_limited").stock_left == 0


def test_per_account_limit_spans_the_accounts_characters(hero: Character, give: Give) -> None:
    alt = CharacterFactory(account=hero.account, realm=hero.realm, name="Alt")
    give(hero, gems=5000)
    give(alt, gems=5000)

    _buy(hero, "crown_of_stars", key="a")
    with pytest.raises(Conflict) as raised:
        _buy(alt, "crown_of_stars", key="b")

    assert raised.value.code == "purchase_limit_reached"


def test_premium_cosmetic_is_bound(hero: Character, give: Give) -> None:
    give(hero, gems=500)

    _buy(hero, "crown_of_stars")

    (crown,) = inventory_get(character_id=hero.pk).items
    assert crown.bound


def test_refund_returns_price_takes_items_back_and_frees_the_limit(
    hero: Character, give: Give
) -> None:
    gm = UserFactory(is_staff=True)
    give(hero, gems=500)
    purchase = _buy(hero, "crown_of_stars")

    refunded = shop_refund(
        purchase_id=purchase.purchase_id, actor=gm, reason="accidental", idempotency_key="rf1"
    )

    assert refunded.state == "refunded"
    assert wallet_balances(character_id=hero.pk)["gems"] == 500
    assert _held(hero, "crown_of_stars") == 0
    purchase_row = Purchase.objects.get()
    assert purchase_row.refund_transaction.actor == gm
    assert purchase_row.refund_transaction.reason == "accidental"
    revoked = purchase_row.refund_transaction.movements.get(delta=0)
    assert revoked.to_place == ItemContainer.REVOKED
    # the per-account limit counts only purchases that stand
    _buy(hero, "crown_of_stars", key="again")
    assert economy_reconcile().ok


def test_refund_is_idempotent_and_only_once(hero: Character, give: Give) -> None:
    gm = UserFactory(is_staff=True)
    give(hero, gold=100)
    purchase = _buy(hero)

    shop_refund(purchase_id=purchase.purchase_id, actor=gm, reason="r", idempotency_key="rf")
    replay = shop_refund(
        purchase_id=purchase.purchase_id, actor=gm, reason="r", idempotency_key="rf"
    )
    with pytest.raises(Conflict) as twice:
        shop_refund(purchase_id=purchase.purchase_id, actor=gm, reason="r", idempotency_key="rf-2")

    assert replay.replayed
    assert twice.value.code == "already_refunded"
    assert wallet_balances(character_id=hero.pk)["gold"] == 100


def test_refund_refused_when_goods_are_gone_unless_price_only(hero: Character, give: Give) -> None:
    from economy.services import inventory_consume

    gm = UserFactory(is_staff=True)
    give(hero, gold=100)
    purchase = _buy(hero, "potion_pack")
    (stack,) = inventory_get(character_id=hero.pk).items
    inventory_consume(character=hero, item_id=stack.pk, quantity=1, idempotency_key="drink")

    with pytest.raises(Conflict) as missing:
        shop_refund(purchase_id=purchase.purchase_id, actor=gm, reason="r", idempotency_key="a")
    shop_refund(
        purchase_id=purchase.purchase_id,
        actor=gm,
        reason="goodwill",
        idempotency_key="b",
        revoke_items=False,
    )

    assert missing.value.code == "items_missing"
    assert wallet_balances(character_id=hero.pk)["gold"] == 100
    assert _held(hero, "minor_healing_potion") == 4


def test_refund_returns_limited_stock(hero: Character, give: Give) -> None:
    gm = UserFactory(is_staff=True)
    give(hero, gold=1000)
    purchase = _buy(hero, "elixir_of_might_limited")
    assert ShopOffer.objects.get(pk="elixir_of_might_limited").stock_sold == 1

    shop_refund(purchase_id=purchase.purchase_id, actor=gm, reason="r", idempotency_key="a")

    assert ShopOffer.objects.get(pk="elixir_of_might_limited").stock_sold == 0


def test_refund_bad_input(hero: Character) -> None:
    gm = UserFactory(is_staff=True)
    with pytest.raises(NotFound):
        shop_refund(purchase_id=999, actor=gm, reason="r", idempotency_key="a")
    with pytest.raises(ValidationFailed):
        shop_refund(purchase_id=999, actor=gm, reason="", idempotency_key="a")
