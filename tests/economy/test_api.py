"""The economy REST API over real HTTP: ownership (404 for others), Idempotency-Key on value
moves, replay returns the first result, error bodies carry stable codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from characters.models import Character
from economy.models import Purchase
from economy.selectors import wallet_balances
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db

BASE = "/api/v1/economy"


@pytest.fixture
def api(hero: Character) -> APIClient:
    client = APIClient()
    client.force_authenticate(hero.account)
    return client


@pytest.fixture
def other_api(other: Character) -> APIClient:
    client = APIClient()
    client.force_authenticate(other.account)
    return client


def _post(client: APIClient, url: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body, format="json", **headers)


def test_catalog_and_offers_are_public() -> None:
    client = APIClient()

    items = client.get(f"{BASE}/items/")
    offers = client.get(f"{BASE}/offers/")

    assert items.status_code == 200 and len(items.json()) >= 30
    assert offers.status_code == 200
    ids = {offer["id"] for offer in offers.json()}
    assert "potion_pack" in ids
    # time-limited offers are listed only inside their window
    now = timezone.now()
    festive_window = (
        datetime(2026, 12, 1, tzinfo=UTC) <= now < datetime(2027, 1, 6, 23, 59, 59, tzinfo=UTC)
    )
    assert ("festive_hat_2026" in ids) == festive_window


def test_purchase_requires_idempotency_key(api: APIClient, hero: Character, give: Give) -> None:
    give(hero, gold=100)

    response = _post(
        api, f"{BASE}/purchases/", {"character_id": hero.pk, "offer_id": "potion_pack"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not Purchase.objects.exists()


def test_purchase_then_retry_returns_the_first_result(
    api: APIClient, hero: Character, give: Give
) -> None:
    give(hero, gold=100)
    body = {"character_id": hero.pk, "offer_id": "potion_pack", "quantity": 2}

    first = _post(api, f"{BASE}/purchases/", body, key="abc")
    retry = _post(api, f"{BASE}/purchases/", body, key="abc")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["purchase_id"] == first.json()["purchase_id"]
    assert retry.json()["replayed"] is True
    assert wallet_balances(character_id=hero.pk)["gold"] == 76
    mine = api.get(f"{BASE}/purchases/mine/").json()
    assert [p["id"] for p in mine] == [first.json()["purchase_id"]]


def test_purchase_errors_have_codes(api: APIClient, hero: Character) -> None:
    poor = _post(
        api, f"{BASE}/purchases/", {"character_id": hero.pk, "offer_id": "potion_pack"}, "k"
    )
    unknown = _post(api, f"{BASE}/purchases/", {"character_id": hero.pk, "offer_id": "zzz"}, "k2")
    malformed = _post(api, f"{BASE}/purchases/", {"character_id": "x", "offer_id": "a"}, "k3")

    too_long = _post(
        api, f"{BASE}/purchases/", {"character_id": hero.pk, "offer_id": "potion_pack"}, "k" * 101
    )

    assert (too_long.status_code, too_long.json()["code"]) == (400, "idempotency_key_invalid")
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_funds")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "offer_not_found")
    assert malformed.status_code == 400


def test_another_players_character_is_404_everywhere(
    other_api: APIClient, hero: Character, give: Give
) -> None:
    (sword,) = give(hero, gold=100, items=[("iron_sword", 1)])
    urls = [
        f"{BASE}/characters/{hero.pk}/wallet/",
        f"{BASE}/characters/{hero.pk}/inventory/",
        f"{BASE}/characters/{hero.pk}/ledger/",
        f"{BASE}/characters/{hero.pk}/mail/",
    ]
    for url in urls:
        assert other_api.get(url).status_code == 404, url
    buy = _post(
        other_api, f"{BASE}/purchases/", {"character_id": hero.pk, "offer_id": "potion_pack"}, "k"
    )
    equip = _post(other_api, f"{BASE}/characters/{hero.pk}/inventory/equip/", {"item_id": sword})
    assert buy.status_code == 404 and equip.status_code == 404
    assert wallet_balances(character_id=hero.pk)["gold"] == 100


def test_anonymous_is_refused(hero: Character) -> None:
    assert APIClient().get(f"{BASE}/characters/{hero.pk}/wallet/").status_code in (401, 403)


def test_wallet_inventory_and_ledger(api: APIClient, hero: Character, give: Give) -> None:
    (sword,) = give(hero, gold=42, items=[("iron_sword", 1)])

    wallet = api.get(f"{BASE}/characters/{hero.pk}/wallet/").json()
    equip = _post(api, f"{BASE}/characters/{hero.pk}/inventory/equip/", {"item_id": sword})
    ledger = api.get(f"{BASE}/characters/{hero.pk}/ledger/?limit=10").json()

    assert wallet["balances"] == {"gold": 42, "gems": 0}
    assert equip.status_code == 200
    assert equip.json()["equipped"][0]["item_id"] == "iron_sword"
    assert equip.json()["stat_bonus"] == {"attack_power": 7, "strength": 1}
    assert [entry["kind"] for entry in ledger] == ["equip", "gm_grant", "gm_grant"]
    grant = ledger[2]
    assert grant["postings"][0]["amount"] == 42
    assert api.get(f"{BASE}/characters/{hero.pk}/ledger/?limit=0").status_code == 400


def test_inventory_operations(api: APIClient, hero: Character, give: Give) -> None:
    (potions,) = give(hero, items=[("mana_potion", 10)])
    url = f"{BASE}/characters/{hero.pk}/inventory"

    split = _post(api, f"{url}/split/", {"item_id": potions, "quantity": 4, "slot": 5}, key="s1")
    split_retry = _post(api, f"{url}/split/", {"item_id": potions, "quantity": 4, "slot": 5}, "s1")
    assert split_retry.json() == split.json()  # the retry did not split again
    new_id = next(i["id"] for i in split.json()["items"] if i["slot"] == 5)
    move = _post(api, f"{url}/move/", {"item_id": new_id, "slot": 9})
    stack = _post(api, f"{url}/stack/", {"source_item_id": new_id, "target_item_id": potions})
    unconfirmed = _post(api, f"{url}/destroy/", {"item_id": potions, "quantity": 1}, key="d")
    no_key = _post(api, f"{url}/destroy/", {"item_id": potions, "confirm": True})
    destroy = _post(
        api, f"{url}/destroy/", {"item_id": potions, "quantity": 3, "confirm": True}, "d2"
    )
    bad_slot = _post(api, f"{url}/move/", {"item_id": potions, "slot": 99})
    unequip = _post(api, f"{url}/unequip/", {"equip_slot": "head"})

    assert split.status_code == move.status_code == stack.status_code == 200
    assert [(i["item_id"], i["quantity"]) for i in stack.json()["items"]] == [("mana_potion", 10)]
    assert unconfirmed.json()["code"] == "confirmation_required"
    assert no_key.json()["code"] == "idempotency_key_required"
    assert destroy.json()["items"][0]["quantity"] == 7
    assert (bad_slot.status_code, bad_slot.json()["code"]) == (400, "invalid_slot")
    assert unequip.json()["code"] == "slot_empty"


def test_trade_over_http(
    api: APIClient, other_api: APIClient, hero: Character, other: Character, give: Give
) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    give(other, gold=80)

    opened = _post(api, f"{BASE}/trades/", {"character_id": hero.pk, "partner_name": "Bob"})
    trade_id = opened.json()["id"]
    trade = f"{BASE}/trades/{trade_id}"
    pending = other_api.get(f"{BASE}/characters/{other.pk}/trades/").json()
    assert [(t["id"], t["state"], t["character_a"]) for t in pending] == [
        (trade_id, "proposed", "Alice")
    ]
    assert api.get(f"{BASE}/characters/{other.pk}/trades/").status_code == 404
    assert _post(other_api, f"{trade}/accept/", {"character_id": other.pk}).status_code == 200
    _post(
        api,
        f"{trade}/offer/",
        {"character_id": hero.pk, "items": [{"item_id": sword, "quantity": 1}]},
    )
    _post(other_api, f"{trade}/offer/", {"character_id": other.pk, "currency": {"gold": 80}})
    _post(api, f"{trade}/lock/", {"character_id": hero.pk})
    _post(other_api, f"{trade}/lock/", {"character_id": other.pk})
    no_key = _post(api, f"{trade}/confirm/", {"character_id": hero.pk})
    _post(api, f"{trade}/confirm/", {"character_id": hero.pk}, key="c1")
    done = _post(other_api, f"{trade}/confirm/", {"character_id": other.pk}, key="c2")
    snooping = api.get(f"{trade}/?character_id={other.pk}")

    assert opened.status_code == 201
    assert no_key.json()["code"] == "idempotency_key_required"
    assert done.json()["state"] == "completed"
    assert {line["item_id"] for line in done.json()["lines"]} == {"iron_sword", None}
    assert snooping.status_code == 404
    assert api.get(f"{trade}/?character_id={hero.pk}").json()["state"] == "completed"
    assert wallet_balances(character_id=hero.pk)["gold"] == 80


def test_trade_cancel_over_http(
    api: APIClient, other_api: APIClient, hero: Character, other: Character
) -> None:
    opened = _post(api, f"{BASE}/trades/", {"character_id": hero.pk, "partner_name": "Bob"})
    trade = f"{BASE}/trades/{opened.json()['id']}"

    cancelled = _post(other_api, f"{trade}/cancel/", {"character_id": other.pk})
    again = _post(other_api, f"{trade}/cancel/", {"character_id": other.pk})

    assert cancelled.json()["state"] == "cancelled"
    assert (again.status_code, again.json()["code"]) == (409, "trade_wrong_state")


def test_mail_over_http(
    api: APIClient, other_api: APIClient, hero: Character, other: Character, give: Give
) -> None:
    give(hero, gold=50)
    body = {"character_id": hero.pk, "recipient_name": "bob", "currency": "gold", "amount": 20}

    sent = _post(api, f"{BASE}/mail/", body, key="m")
    replay = _post(api, f"{BASE}/mail/", body, key="m")
    inbox = other_api.get(f"{BASE}/characters/{other.pk}/mail/").json()
    stolen = _post(
        api, f"{BASE}/mail/{sent.json()['mail_id']}/claim/", {"character_id": hero.pk}, "x"
    )
    claimed = _post(
        other_api, f"{BASE}/mail/{sent.json()['mail_id']}/claim/", {"character_id": other.pk}, "y"
    )

    assert (sent.status_code, replay.status_code) == (201, 200)
    assert [m["amount"] for m in inbox] == [20]
    assert stolen.status_code == 404
    assert claimed.json()["state"] == "claimed"
    assert wallet_balances(character_id=other.pk)["gold"] == 20


def test_schema_documents_the_economy_api(api: APIClient) -> None:
    schema = api.get("/api/v1/schema/?format=json")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/economy/purchases/" in paths
    parameters = paths["/api/v1/economy/purchases/"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" for p in parameters)
