"""Inventory and equipment: moves, splits, stacks, equip/unequip with stat effects that reach
the world after commit, destroy with confirmation, capacity."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from characters.models import Character
from economy.models import ItemContainer, ItemInstance, ItemMovement
from economy.selectors import equipment_stat_bonus, inventory_get
from economy.services import (
    InventoryFull,
    economy_reconcile,
    inventory_consume,
    inventory_destroy,
    inventory_equip,
    inventory_move,
    inventory_split,
    inventory_stack,
    inventory_unequip,
)
from mmo_platform.errors import Conflict, ValidationFailed
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


def _slots(character: Character) -> dict[int, tuple[str, int]]:
    return {
        item.slot: (item.definition_id, item.quantity)
        for item in inventory_get(character_id=character.pk).items
        if item.slot is not None
    }


def test_move_to_empty_slot_and_swap(hero: Character, give: Give) -> None:
    sword, cap = give(hero, items=[("iron_sword", 1), ("leather_cap", 1)])

    inventory_move(character=hero, item_id=sword, slot=10)
    assert _slots(hero) == {10: ("iron_sword", 1), 1: ("leather_cap", 1)}

    inventory_move(character=hero, item_id=cap, slot=10)
    assert _slots(hero) == {10: ("leather_cap", 1), 1: ("iron_sword", 1)}
    assert economy_reconcile().ok


@pytest.mark.parametrize(
    ("slot", "code"), [(-1, "invalid_slot"), (30, "invalid_slot"), (0, "no_change")]
)
def test_bad_moves_are_refused(hero: Character, give: Give, slot: int, code: str) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])

    with pytest.raises(ValidationFailed) as raised:
        inventory_move(character=hero, item_id=sword, slot=slot)

    assert raised.value.code == code


def test_someone_elses_item_is_not_in_my_inventory(
    hero: Character, other: Character, give: Give
) -> None:
    (their_sword,) = give(other, items=[("iron_sword", 1)])

    with pytest.raises(ValidationFailed) as raised:
        inventory_move(character=hero, item_id=their_sword, slot=5)

    assert raised.value.code == "item_not_in_inventory"
    assert ItemInstance.objects.get(pk=their_sword).owner_id == other.pk


def test_split_and_stack_back(hero: Character, give: Give) -> None:
    (potions,) = give(hero, items=[("minor_healing_potion", 12)])

    inventory_split(character=hero, item_id=potions, quantity=5, slot=7)
    assert _slots(hero) == {0: ("minor_healing_potion", 7), 7: ("minor_healing_potion", 5)}

    new_stack = ItemInstance.objects.get(owner=hero, slot=7)
    inventory_stack(character=hero, source_item_id=new_stack.pk, target_item_id=potions)
    assert _slots(hero) == {0: ("minor_healing_potion", 12)}
    new_stack.refresh_from_db()
    assert (new_stack.container, new_stack.quantity) == (ItemContainer.MERGED, 0)
    assert economy_reconcile().ok


def test_bad_splits_and_stacks(hero: Character, give: Give) -> None:
    potions, sword, bread = give(
        hero, items=[("minor_healing_potion", 5), ("iron_sword", 1), ("bread", 3)]
    )
    cases: list[tuple[Any, str]] = [
        (lambda: inventory_split(character=hero, item_id=potions, quantity=5), "invalid_quantity"),
        (lambda: inventory_split(character=hero, item_id=potions, quantity=0), "invalid_quantity"),
        (
            lambda: inventory_split(character=hero, item_id=potions, quantity=1, slot=1),
            "slot_occupied",
        ),
        (
            lambda: inventory_stack(character=hero, source_item_id=bread, target_item_id=potions),
            "not_stackable",
        ),
        (
            lambda: inventory_stack(character=hero, source_item_id=sword, target_item_id=sword),
            "same_item",
        ),
    ]
    for call, code in cases:
        with pytest.raises(ValidationFailed) as raised:
            call()
        assert raised.value.code == code


def test_stack_moves_only_what_fits(hero: Character, give: Give) -> None:
    give(hero, items=[("minor_healing_potion", 20), ("minor_healing_potion", 20)])
    first, second = ItemInstance.objects.filter(owner=hero).order_by("slot")
    inventory_split(character=hero, item_id=first.pk, quantity=3)
    inventory_stack(character=hero, source_item_id=second.pk, target_item_id=first.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.quantity, second.quantity) == (20, 17)
    with pytest.raises(ValidationFailed, match="full"):
        inventory_stack(character=hero, source_item_id=second.pk, target_item_id=first.pk)


def test_equip_swaps_and_adds_stats(hero: Character, give: Give) -> None:
    rusty, iron = give(hero, items=[("rusty_sword", 1), ("iron_sword", 1)])

    inventory_equip(character=hero, item_id=rusty)
    assert equipment_stat_bonus(character_id=hero.pk) == {"attack_power": 3}

    inventory_equip(character=hero, item_id=iron)
    view = inventory_get(character_id=hero.pk)
    assert [(i.definition_id, i.equip_slot) for i in view.equipped] == [("iron_sword", "main_hand")]
    assert [(i.definition_id, i.slot) for i in view.items] == [("rusty_sword", 1)]
    assert equipment_stat_bonus(character_id=hero.pk) == {"attack_power": 7, "strength": 1}

    inventory_unequip(character=hero, equip_slot="main_hand")
    assert equipment_stat_bonus(character_id=hero.pk) == {}
    assert economy_reconcile().ok


def test_equip_rules(hero: Character, give: Give) -> None:
    potion, blade = give(hero, items=[("mana_potion", 1), ("ember_blade", 1)])
    hero.level = 5
    hero.save()

    with pytest.raises(ValidationFailed) as not_equippable:
        inventory_equip(character=hero, item_id=potion)
    with pytest.raises(ValidationFailed) as too_low:
        inventory_equip(character=hero, item_id=blade)
    with pytest.raises(ValidationFailed) as empty:
        inventory_unequip(character=hero, equip_slot="head")

    assert not_equippable.value.code == "not_equippable"
    assert too_low.value.code == "level_too_low"
    assert empty.value.code == "slot_empty"


def test_bind_on_equip(hero: Character, give: Give) -> None:
    (blade,) = give(hero, items=[("ember_blade", 1)])
    assert not ItemInstance.objects.get(pk=blade).bound

    inventory_equip(character=hero, item_id=blade)

    assert ItemInstance.objects.get(pk=blade).bound


def test_unequip_into_full_bag_is_refused(hero: Character, give: Give) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    inventory_equip(character=hero, item_id=sword)
    give(hero, items=[("leather_cap", 30)])

    with pytest.raises(InventoryFull):
        inventory_unequip(character=hero, equip_slot="main_hand")


def test_equipment_change_is_published_only_after_commit(
    hero: Character, give: Give, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        "economy.events.publish_character_changed", lambda cid, what: sent.append((cid, what))
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inventory_equip(character=hero, item_id=sword)
        assert sent == []

    for callback in callbacks:
        callback()
    assert (hero.pk, "equipment") in sent


def test_equipment_change_reaches_the_character_group(
    hero: Character, give: Give, django_capture_on_commit_callbacks: Any
) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"character-{hero.pk}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        inventory_equip(character=hero, item_id=sword)

    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "character.changed"
    assert message["what"] == "equipment"
    async_to_sync(layer.group_discard)(f"character-{hero.pk}", channel)


def test_destroy_needs_confirmation_and_is_recorded(hero: Character, give: Give) -> None:
    (potions,) = give(hero, items=[("mana_potion", 6)])

    with pytest.raises(ValidationFailed) as unconfirmed:
        inventory_destroy(
            character=hero, item_id=potions, quantity=2, confirm=False, idempotency_key="d1"
        )
    assert unconfirmed.value.code == "confirmation_required"

    inventory_destroy(
        character=hero, item_id=potions, quantity=2, confirm=True, idempotency_key="d1"
    )
    again = inventory_destroy(
        character=hero, item_id=potions, quantity=2, confirm=True, idempotency_key="d1"
    )

    assert again.replayed
    assert _slots(hero) == {0: ("mana_potion", 4)}
    destroyed = ItemInstance.objects.get(container=ItemContainer.DESTROYED)
    assert (destroyed.quantity, destroyed.owner_id) == (2, hero.pk)
    movement = ItemMovement.objects.filter(item=destroyed).get()
    assert (movement.from_place, movement.to_place) == ("inventory", "destroyed")
    assert economy_reconcile().ok


def test_destroy_whole_stack_and_too_many(hero: Character, give: Give) -> None:
    (potions,) = give(hero, items=[("mana_potion", 3)])
    with pytest.raises(ValidationFailed):
        inventory_destroy(
            character=hero, item_id=potions, quantity=4, confirm=True, idempotency_key="x"
        )

    inventory_destroy(
        character=hero, item_id=potions, quantity=None, confirm=True, idempotency_key="y"
    )

    assert _slots(hero) == {}


def test_consume_only_consumables(hero: Character, give: Give) -> None:
    potions, sword = give(hero, items=[("healing_potion", 3), ("iron_sword", 1)])

    inventory_consume(character=hero, item_id=potions, quantity=1, idempotency_key="sip-1")
    with pytest.raises(ValidationFailed) as raised:
        inventory_consume(character=hero, item_id=sword, idempotency_key="sip-2")

    assert raised.value.code == "not_consumable"
    assert _slots(hero)[0] == ("healing_potion", 2)


def test_deleted_character_cannot_move_items(hero: Character, give: Give) -> None:
    from django.utils import timezone

    (sword,) = give(hero, items=[("iron_sword", 1)])
    hero.deleted_at = timezone.now()
    hero.save()

    with pytest.raises(Conflict):
        inventory_move(character=hero, item_id=sword, slot=3)
