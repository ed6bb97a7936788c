"""Hot reads and the purchase path pin their query counts, so an N+1 shows up as a failure."""

from __future__ import annotations

from typing import Any

import pytest

from characters.models import Character
from economy.selectors import equipment_stat_bonus, inventory_get, wallet_balances
from economy.services import inventory_equip, shop_purchase
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


def test_hot_selectors_query_counts(
    hero: Character, give: Give, django_assert_num_queries: Any
) -> None:
    ids = give(hero, gold=10, items=[("iron_sword", 1), ("leather_cap", 1), ("bread", 30)])
    inventory_equip(character=hero, item_id=ids[0])
    inventory_equip(character=hero, item_id=ids[1])

    with django_assert_num_queries(1):
        assert equipment_stat_bonus(character_id=hero.pk)["armor"] == 3
    with django_assert_num_queries(1):
        assert wallet_balances(character_id=hero.pk)["gold"] == 10
    with django_assert_num_queries(2):
        view = inventory_get(character_id=hero.pk)
    assert len(view.items) == 1 and len(view.equipped) == 2


def test_purchase_query_count_does_not_grow_with_inventory_size(
    hero: Character, give: Give, django_assert_max_num_queries: Any
) -> None:
    give(hero, gold=1000, items=[("wolf_pelt", 50 * 20)])

    with django_assert_max_num_queries(22):
        shop_purchase(
            user=hero.account,
            character=hero,
            offer_id="iron_sword",
            quantity=1,
            idempotency_key="q",
        )
