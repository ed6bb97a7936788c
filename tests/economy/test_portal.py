"""Portal pages (/shop/, inventory) and the GM console, through real HTTP requests."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from characters.models import Character
from economy.models import LedgerTransaction, Purchase
from economy.selectors import wallet_balances
from economy.services import shop_purchase
from tests.economy.conftest import Give
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(hero: Character) -> Client:
    client = Client()
    client.force_login(hero.account)
    return client


@pytest.fixture
def gm_browser() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_shop_lists_offers_with_price_stock_and_a_buy_key(
    browser: Client, hero: Character, give: Give
) -> None:
    give(hero, gold=123)

    page = browser.get("/shop/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Pack of 5 Minor Healing Potions" in html
    assert "12 gold" in html
    assert "100 of 100" in html  # limited stock left
    assert "123 gold" in html
    assert len(set(re.findall(r'name="idempotency_key" value="([0-9a-f]{32})"', html))) > 5


def test_double_submitted_buy_form_buys_once(browser: Client, hero: Character, give: Give) -> None:
    give(hero, gold=100)
    form = {
        "idempotency_key": "f" * 32,
        "offer_id": "potion_pack",
        "character_id": hero.pk,
        "quantity": 1,
    }

    first = browser.post("/shop/buy/", form, follow=True)
    second = browser.post("/shop/buy/", form, follow=True)

    assert Purchase.objects.count() == 1
    assert wallet_balances(character_id=hero.pk)["gold"] == 88
    assert "Bought 1 x potion_pack" in first.content.decode()
    assert "not charged again" in second.content.decode()


def test_buy_errors_become_messages(browser: Client, hero: Character, other: Character) -> None:
    poor = browser.post(
        "/shop/buy/",
        {"idempotency_key": "k", "offer_id": "potion_pack", "character_id": hero.pk},
        follow=True,
    )
    foreign = browser.post(
        "/shop/buy/",
        {"idempotency_key": "k2", "offer_id": "potion_pack", "character_id": other.pk},
        follow=True,
    )
    garbage = browser.post("/shop/buy/", {"character_id": "abc"}, follow=True)

    assert "Not enough gold" in poor.content.decode()
    assert "No such character" in foreign.content.decode()
    assert "malformed" in garbage.content.decode()
    assert not Purchase.objects.exists()


def test_shop_requires_login() -> None:
    response = Client().get("/shop/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_inventory_page(browser: Client, hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=7, items=[("iron_sword", 1), ("bread", 4)])

    page = browser.get(f"/characters/{hero.pk}/inventory/")
    foreign = browser.get(f"/characters/{other.pk}/inventory/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Iron Sword" in html and "Bread" in html
    assert html.count("bag-slot is-empty") == 28
    assert "GM grant" in html  # recent ledger
    assert foreign.status_code == 404


def test_gm_history_grant_and_refund(gm_browser: Client, hero: Character, give: Give) -> None:
    give(hero, gold=100)
    purchase = shop_purchase(
        user=hero.account, character=hero, offer_id="potion_pack", quantity=1, idempotency_key="p"
    )

    history = gm_browser.get(reverse("admin:economy_character_history", args=[hero.pk]))
    grant_form = gm_browser.get(reverse("admin:economy_gm_grant") + f"?character={hero.pk}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', grant_form.content.decode())
    assert key is not None
    grant = {
        "character": hero.pk,
        "currency": "gems",
        "amount": 25,
        "item_id": "iron_sword",
        "quantity": 1,
        "reason": "ticket 7",
        "idempotency_key": key.group(1),
    }
    gm_browser.post(reverse("admin:economy_gm_grant"), grant)
    gm_browser.post(reverse("admin:economy_gm_grant"), grant)  # double submit
    refund = gm_browser.post(
        reverse("admin:economy_purchase_refund", args=[purchase.purchase_id]),
        {"reason": "asked nicely", "revoke_items": "on", "idempotency_key": "admin-r1"},
    )

    assert history.status_code == 200
    assert "Pack of 5 Minor Healing Potions" in history.content.decode()
    assert wallet_balances(character_id=hero.pk) == {"gold": 100, "gems": 25}
    assert LedgerTransaction.objects.filter(reason="ticket 7").count() == 1
    assert refund.status_code == 302
    refund_tx = LedgerTransaction.objects.get(kind="refund")
    assert refund_tx.reason == "asked nicely" and refund_tx.actor is not None
    changelist = gm_browser.get(
        reverse("admin:economy_ledgertransaction_changelist") + f"?character={hero.pk}"
    )
    assert changelist.status_code == 200
    assert "ticket 7" in changelist.content.decode()


def test_gm_grant_form_validation(gm_browser: Client, hero: Character) -> None:
    response = gm_browser.post(
        reverse("admin:economy_gm_grant"),
        {
            "character": hero.pk,
            "currency": "gold",
            "reason": "x",
            "quantity": 1,
            "idempotency_key": "a",
        },
    )
    assert response.status_code == 200
    assert "Give both a currency and an amount" in response.content.decode()
    assert not LedgerTransaction.objects.exists()


def test_admin_changelists_render(gm_browser: Client, hero: Character, give: Give) -> None:
    give(hero, gold=5, items=[("bread", 1)])
    for model in [
        "itemdefinition",
        "wallet",
        "ledgertransaction",
        "purchase",
        "shopoffer",
        "iteminstance",
        "inventory",
        "trade",
        "mail",
        "reconciliationrun",
    ]:
        response = gm_browser.get(reverse(f"admin:economy_{model}_changelist"))
        assert response.status_code == 200, model
    tx = LedgerTransaction.objects.first()
    assert tx is not None
    detail = gm_browser.get(reverse("admin:economy_ledgertransaction_change", args=[tx.pk]))
    assert detail.status_code == 200


def test_non_staff_cannot_reach_gm_views(browser: Client, hero: Character) -> None:
    response = browser.get(reverse("admin:economy_character_history", args=[hero.pk]))
    assert response.status_code == 302
