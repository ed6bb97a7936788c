"""GM console: a bag's capacity cannot be cut below the slots its items occupy."""

from __future__ import annotations

import pytest

from characters.models import Character
from economy.admin import MAX_INVENTORY_CAPACITY, InventoryAdminForm
from economy.models import Inventory
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


def _form(hero: Character, capacity: int) -> InventoryAdminForm:
    return InventoryAdminForm(
        data={"capacity": capacity}, instance=Inventory.objects.get(character=hero)
    )


def test_capacity_below_the_last_used_slot_is_refused(hero: Character, give: Give) -> None:
    give(hero, items=[("iron_sword", 1), ("iron_sword", 1), ("iron_sword", 1)])

    assert not _form(hero, 2).is_valid()
    assert _form(hero, 3).is_valid()


@pytest.mark.parametrize("capacity", [0, MAX_INVENTORY_CAPACITY + 1])
def test_capacity_out_of_range_is_refused(hero: Character, give: Give, capacity: int) -> None:
    give(hero, gold=1)  # the grant creates the bag

    assert not _form(hero, capacity).is_valid()
