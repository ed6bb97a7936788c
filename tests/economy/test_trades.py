"""Trades: the state machine, bound items refused, the swap is all-or-nothing and is cancelled
if anything changed since the lock or a player left."""

from __future__ import annotations

import pytest
from django.utils import timezone

from characters.models import Character
from economy.models import ItemInstance, LedgerTransaction, Trade, TradeState
from economy.selectors import inventory_get, wallet_balances
from economy.services import (
    economy_reconcile,
    inventory_destroy,
    inventory_equip,
    inventory_move,
    inventory_split,
    trade_accept,
    trade_cancel,
    trade_cancel_for_character,
    trade_confirm,
    trade_lock,
    trade_open,
    trade_set_offer,
)
from mmo_platform.errors import Conflict, NotFound, ValidationFailed
from tests.characters.factories import CharacterFactory
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


def _open(a: Character, b: Character) -> Trade:
    trade = trade_open(initiator=a, partner_name=b.name.upper())
    return trade_accept(character=b, trade_id=trade.pk)


def _lock_both(trade: Trade, a: Character, b: Character) -> None:
    trade_lock(character=a, trade_id=trade.pk)
    trade_lock(character=b, trade_id=trade.pk)


def _confirm_both(trade: Trade, a: Character, b: Character) -> Trade:
    trade_confirm(character=a, trade_id=trade.pk)
    return trade_confirm(character=b, trade_id=trade.pk)


def _held(character: Character) -> dict[str, int]:
    held: dict[str, int] = {}
    for item in inventory_get(character_id=character.pk).items:
        held[item.definition_id] = held.get(item.definition_id, 0) + item.quantity
    return held


def test_full_trade_swaps_items_and_gold_in_one_transaction(
    hero: Character, other: Character, give: Give
) -> None:
    sword, potions = give(hero, gold=500, items=[("iron_sword", 1), ("minor_healing_potion", 10)])
    (pelts,) = give(other, gold=50, items=[("wolf_pelt", 8)])
    trade = _open(hero, other)

    trade_set_offer(character=hero, trade_id=trade.pk, items=[(sword, 1), (potions, 4)])
    trade_set_offer(character=other, trade_id=trade.pk, items=[(pelts, 8)], currency={"gold": 50})
    _lock_both(trade, hero, other)
    first = trade_confirm(character=hero, trade_id=trade.pk)
    assert first.state == TradeState.BOTH_LOCKED
    done = trade_confirm(character=other, trade_id=trade.pk)

    assert done.state == TradeState.COMPLETED
    assert _held(hero) == {"minor_healing_potion": 6, "wolf_pelt": 8}
    assert _held(other) == {"iron_sword": 1, "minor_healing_potion": 4}
    assert wallet_balances(character_id=hero.pk)["gold"] == 550
    assert wallet_balances(character_id=other.pk)["gold"] == 0
    # the unique sword kept its identity
    assert ItemInstance.objects.get(pk=sword).owner_id == other.pk
    tx = LedgerTransaction.objects.get(pk=done.transaction_id)
    assert (tx.kind, tx.idempotency_key) == ("trade", f"trade:{trade.pk}")
    assert economy_reconcile().ok


def test_state_machine_refuses_out_of_order_steps(
    hero: Character, other: Character, give: Give
) -> None:
    give(hero, gold=10)
    trade = trade_open(initiator=hero, partner_name="Bob")

    with pytest.raises(Conflict) as not_invited:
        trade_accept(character=hero, trade_id=trade.pk)
    with pytest.raises(Conflict) as not_open:
        trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 5})
    trade_accept(character=other, trade_id=trade.pk)
    with pytest.raises(Conflict) as empty:
        trade_lock(character=hero, trade_id=trade.pk)
    with pytest.raises(Conflict) as not_locked:
        trade_confirm(character=hero, trade_id=trade.pk)

    assert not_invited.value.code == "not_invited"
    assert not_open.value.code == "trade_wrong_state"
    assert empty.value.code == "trade_empty"
    assert not_locked.value.code == "trade_wrong_state"


def test_changing_an_offer_clears_both_locks(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=100)
    give(other, gold=100)
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 10})
    trade_lock(character=other, trade_id=trade.pk)

    trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 1})

    trade.refresh_from_db()
    assert trade.state == TradeState.OPEN
    assert trade.version_a == 2
    with pytest.raises(Conflict) as locked:
        trade_lock(character=hero, trade_id=trade.pk)
        trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 2})
    assert locked.value.code == "offer_locked"


def test_bound_and_untradable_items_are_refused(
    hero: Character, other: Character, give: Give
) -> None:
    fang, letter, blade = give(
        hero, items=[("dragonfang", 1), ("sealed_letter", 1), ("ember_blade", 1)]
    )
    inventory_equip(character=hero, item_id=blade)
    from economy.services import inventory_unequip

    inventory_unequip(character=hero, equip_slot="main_hand")
    trade = _open(hero, other)

    for item in (fang, letter, blade):
        with pytest.raises(ValidationFailed) as raised:
            trade_set_offer(character=hero, trade_id=trade.pk, items=[(item, 1)])
        assert raised.value.code in {"item_bound", "item_not_tradable"}


def test_bad_offers(hero: Character, other: Character, give: Give) -> None:
    (potions,) = give(hero, gold=5, items=[("mana_potion", 3)])
    (theirs,) = give(other, items=[("bread", 1)])
    trade = _open(hero, other)
    cases = [
        ({"items": [(potions, 4)]}, "invalid_quantity"),
        ({"items": [(potions, 1), (potions, 1)]}, "duplicate_item"),
        ({"items": [(theirs, 1)]}, "item_not_in_inventory"),
        ({"currency": {"gold": 6}}, "insufficient_funds"),
        ({"currency": {"gold": 0}}, "invalid_amount"),
        ({"currency": {"doubloons": 1}}, "unknown_currency"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ValidationFailed) as raised:
            trade_set_offer(character=hero, trade_id=trade.pk, **kwargs)
        assert raised.value.code == code, kwargs


@pytest.mark.parametrize("change", ["split", "destroy", "equip", "move"])
def test_any_item_change_after_lock_cancels_the_swap(
    hero: Character, other: Character, give: Give, change: str
) -> None:
    potions, sword = give(hero, items=[("mana_potion", 5), ("iron_sword", 1)])
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, items=[(potions, 5), (sword, 1)])
    _lock_both(trade, hero, other)
    trade_confirm(character=hero, trade_id=trade.pk)

    if change == "split":
        inventory_split(character=hero, item_id=potions, quantity=2)
    elif change == "destroy":
        inventory_destroy(
            character=hero, item_id=potions, quantity=1, confirm=True, idempotency_key="d"
        )
    elif change == "equip":
        inventory_equip(character=hero, item_id=sword)
    else:
        # a plain move keeps owner, container and quantity: still the same offer, swap proceeds
        inventory_move(character=hero, item_id=sword, slot=20)

    if change == "move":
        assert trade_confirm(character=other, trade_id=trade.pk).state == TradeState.COMPLETED
        return
    with pytest.raises(Conflict) as raised:
        trade_confirm(character=other, trade_id=trade.pk)
    assert raised.value.code == "trade_cancelled"
    assert raised.value.details["reason"] == "items_changed"
    trade.refresh_from_db()
    assert trade.state == TradeState.CANCELLED
    assert "iron_sword" not in _held(other)
    assert not LedgerTransaction.objects.filter(kind="trade").exists()


def test_spent_gold_after_lock_cancels(hero: Character, other: Character, give: Give) -> None:
    from economy.services import shop_purchase

    give(hero, gold=100)
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 100})
    _lock_both(trade, hero, other)
    shop_purchase(
        user=hero.account, character=hero, offer_id="mana_potion", quantity=1, idempotency_key="p"
    )

    with pytest.raises(Conflict) as raised:
        _confirm_both(trade, hero, other)

    assert raised.value.details["reason"] == "insufficient_funds"
    assert wallet_balances(character_id=other.pk)["gold"] == 0


def test_full_bag_cancels_the_swap(hero: Character, other: Character, give: Give) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    give(other, items=[("leather_cap", 30)])
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, items=[(sword, 1)])
    _lock_both(trade, hero, other)

    with pytest.raises(Conflict) as raised:
        _confirm_both(trade, hero, other)

    assert raised.value.details["reason"] == "inventory_full"
    assert ItemInstance.objects.get(pk=sword).owner_id == hero.pk
    assert economy_reconcile().ok


def test_swap_uses_slots_freed_by_outgoing_items(
    hero: Character, other: Character, give: Give
) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    caps = give(other, items=[("leather_cap", 30)])
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, items=[(sword, 1)])
    trade_set_offer(character=other, trade_id=trade.pk, items=[(caps[0], 1)])
    _lock_both(trade, hero, other)

    assert _confirm_both(trade, hero, other).state == TradeState.COMPLETED


def test_player_leaving_cancels_their_trades(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=10)
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 10})
    _lock_both(trade, hero, other)

    assert trade_cancel_for_character(other.pk, reason="left") == 1

    trade.refresh_from_db()
    assert (trade.state, trade.cancel_reason) == (TradeState.CANCELLED, "left")
    with pytest.raises(Conflict):
        trade_confirm(character=hero, trade_id=trade.pk)


def test_deleted_partner_cancels_at_swap(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=10)
    trade = _open(hero, other)
    trade_set_offer(character=hero, trade_id=trade.pk, currency={"gold": 10})
    _lock_both(trade, hero, other)
    trade_confirm(character=hero, trade_id=trade.pk)
    Character.objects.filter(pk=other.pk).update(deleted_at=timezone.now())
    other.refresh_from_db()

    with pytest.raises(Conflict) as raised:
        trade_confirm(character=other, trade_id=trade.pk)

    assert raised.value.details["reason"] == "character_deleted"


def test_open_rules(hero: Character, other: Character, realm: object) -> None:
    stranger = CharacterFactory(name="Stranger")  # another realm
    with pytest.raises(NotFound):
        trade_open(initiator=hero, partner_name=stranger.name)
    with pytest.raises(ValidationFailed):
        trade_open(initiator=hero, partner_name=hero.name)
    trade = trade_open(initiator=hero, partner_name=other.name)
    with pytest.raises(Conflict) as busy:
        trade_open(initiator=other, partner_name=hero.name)
    assert busy.value.code == "already_trading"
    with pytest.raises(NotFound):
        trade_cancel(character=stranger, trade_id=trade.pk)
    trade_cancel(character=other, trade_id=trade.pk)
    with pytest.raises(Conflict):
        trade_cancel(character=other, trade_id=trade.pk)


def test_stale_trades_expire(hero: Character, other: Character) -> None:
    from datetime import timedelta

    from economy.tasks import expire_stale_trades

    trade = trade_open(initiator=hero, partner_name=other.name)
    assert expire_stale_trades.delay().get() == 0
    Trade.objects.filter(pk=trade.pk).update(updated_at=timezone.now() - timedelta(minutes=16))

    assert expire_stale_trades.delay().get() == 1

    trade.refresh_from_db()
    assert (trade.state, trade.cancel_reason) == (TradeState.CANCELLED, "expired")
