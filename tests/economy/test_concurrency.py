"""Concurrency on PostgreSQL: many threads (each its own connection) hammer the same wallets
and items with conflicting purchases, trades, mail and grants. Afterwards: no negative balance,
no duplicated item, supply conserved, reconciliation clean, no deadlock or other unexpected
error, idempotent retries charged once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from django.db.models import Sum

from characters.models import Character
from economy.models import (
    ItemContainer,
    ItemInstance,
    ItemMovement,
    MovementPlace,
    Purchase,
    ShopOffer,
    TradeState,
    Wallet,
    WalletKind,
)
from economy.selectors import wallet_balances
from economy.services import (
    economy_grant,
    economy_reconcile,
    inventory_destroy,
    inventory_equip,
    mail_claim,
    mail_send,
    shop_purchase,
    trade_accept,
    trade_cancel_for_character,
    trade_confirm,
    trade_lock,
    trade_open,
    trade_set_offer,
)
from mmo_platform.errors import DomainError
from tests.characters.factories import CharacterFactory, RealmFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def hammer(workers: int, job: Callable[[int], Any]) -> list[Any]:
    """Run ``job(i)`` in ``workers`` threads released together; each closes its connection.
    Domain refusals come back as their code; anything else fails the test."""
    start = threading.Barrier(workers)

    def run(index: int) -> Any:
        try:
            start.wait(timeout=30)
            return job(index)
        except DomainError as error:
            return error.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def grant(character: Character, *, gold: int = 0, gems: int = 0, items: Any = ()) -> list[int]:
    ids: list[int] = []
    for currency, amount in (("gold", gold), ("gems", gems)):
        if amount:
            economy_grant(
                character=character,
                source="gm",
                actor=None,
                reason="setup",
                idempotency_key=f"setup-{character.pk}-{currency}-{random.random()}",
                currency=currency,
                amount=amount,
            )
    for item_id, quantity in items:
        ids += economy_grant(
            character=character,
            source="gm",
            actor=None,
            reason="setup",
            idempotency_key=f"setup-{character.pk}-{item_id}-{random.random()}",
            items=[(item_id, quantity)],
        ).item_ids
    return ids


def assert_economy_sound() -> None:
    assert not Wallet.objects.exclude(kind=WalletKind.ISSUER).filter(balance__lt=0).exists()
    for currency in ("gold", "gems"):
        assert (Wallet.objects.filter(currency=currency).aggregate(s=Sum("balance"))["s"] or 0) == 0
    minted = dict(
        ItemMovement.objects.filter(from_place=MovementPlace.MINT)
        .values_list("definition_id")
        .annotate(s=Sum("delta"))
    )
    held = dict(ItemInstance.objects.values_list("definition_id").annotate(s=Sum("quantity")))
    assert held == minted
    report = economy_reconcile()
    assert report.ok, report.as_dict()


@pytest.fixture
def trio(transactional_db: None) -> list[Character]:
    realm = RealmFactory(slug="concurrency")
    return [CharacterFactory(realm=realm, name=f"Racer{i}", level=30) for i in range(3)]


def test_conflicting_purchases_never_overdraw(trio: list[Character]) -> None:
    # given 100 gold and an offer at 12: at most 8 can succeed
    buyer = trio[0]
    grant(buyer, gold=100)

    results = hammer(
        24,
        lambda i: shop_purchase(
            user=buyer.account,
            character=buyer,
            offer_id="potion_pack",
            quantity=1,
            idempotency_key=f"race-{i}",
        ),
    )

    bought = [r for r in results if not isinstance(r, str)]
    assert len(bought) == 8
    assert Counter(r for r in results if isinstance(r, str)) == {"insufficient_funds": 16}
    assert wallet_balances(character_id=buyer.pk)["gold"] == 4
    assert_economy_sound()


def test_concurrent_retries_with_one_key_charge_once(trio: list[Character]) -> None:
    buyer = trio[0]
    grant(buyer, gold=1000)

    results = hammer(
        16,
        lambda i: shop_purchase(
            user=buyer.account,
            character=buyer,
            offer_id="iron_sword",
            quantity=1,
            idempotency_key="double-click",
        ),
    )

    assert len({r.purchase_id for r in results}) == 1
    assert sum(1 for r in results if not r.replayed) == 1
    assert Purchase.objects.count() == 1
    assert wallet_balances(character_id=buyer.pk)["gold"] == 950
    assert ItemInstance.objects.filter(definition_id="iron_sword").count() == 1
    assert_economy_sound()


def test_limited_stock_is_never_oversold(trio: list[Character]) -> None:
    ShopOffer.objects.filter(pk="elixir_of_might_limited").update(
        stock_limit=5, per_account_limit=None
    )
    for character in trio:
        grant(character, gold=5000)

    results = hammer(
        18,
        lambda i: shop_purchase(
            user=trio[i % 3].account,
            character=trio[i % 3],
            offer_id="elixir_of_might_limited",
            quantity=1,
            idempotency_key=f"stock-{i}",
        ),
    )

    assert sum(1 for r in results if not isinstance(r, str)) == 5
    assert ShopOffer.objects.get(pk="elixir_of_might_limited").stock_sold == 5
    assert_economy_sound()


def test_one_sword_raced_by_trade_mail_destroy_and_equip(trio: list[Character]) -> None:
    """Each round: a locked trade gives the sword (and gold) to B while A mails it to C, destroys
    it and equips it, all at once. Exactly one of them may get it."""
    a, b, c = trio
    for round_number in range(6):
        _race_one_sword(a, b, c, round_number)
        assert_economy_sound()


def _race_one_sword(a: Character, b: Character, c: Character, round_number: int) -> None:
    (sword,) = grant(a, gold=100, items=[("iron_sword", 1)])
    trade = trade_open(initiator=a, partner_name=b.name)
    trade_accept(character=b, trade_id=trade.pk)
    trade_set_offer(character=a, trade_id=trade.pk, items=[(sword, 1)], currency={"gold": 100})
    trade_lock(character=a, trade_id=trade.pk)
    trade_lock(character=b, trade_id=trade.pk)
    trade_confirm(character=a, trade_id=trade.pk)
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("trade", lambda: trade_confirm(character=b, trade_id=trade.pk)),
        (
            "mail",
            lambda: mail_send(
                sender=a,
                recipient_name=c.name,
                idempotency_key=f"mail-{round_number}",
                items=[(sword, 1)],
                currency="gold",
                amount=100,
            ),
        ),
        (
            "destroy",
            lambda: inventory_destroy(
                character=a,
                item_id=sword,
                quantity=1,
                confirm=True,
                idempotency_key=f"destroy-{round_number}",
            ),
        ),
        ("equip", lambda: inventory_equip(character=a, item_id=sword)),
    ]
    random.shuffle(jobs)
    results = hammer(len(jobs), lambda i, jobs=jobs: jobs[i][1]())

    winners = [
        name for (name, _), result in zip(jobs, results, strict=True) if not isinstance(result, str)
    ]
    assert len(winners) == 1, (winners, results)
    trade.refresh_from_db()
    row = ItemInstance.objects.get(pk=sword)
    expected_place = {
        "trade": (b.pk, ItemContainer.INVENTORY),
        "mail": (None, ItemContainer.MAIL),
        "destroy": (a.pk, ItemContainer.DESTROYED),
        "equip": (a.pk, ItemContainer.EQUIPMENT),
    }[winners[0]]
    assert (row.owner_id, row.container, row.quantity) == (*expected_place, 1)
    assert trade.state == (TradeState.COMPLETED if winners == ["trade"] else TradeState.CANCELLED)
    total_swords = ItemInstance.objects.filter(definition_id="iron_sword").aggregate(
        s=Sum("quantity")
    )["s"]
    assert total_swords == round_number + 1
    assert_economy_sound()


def test_random_mix_of_conflicting_operations(trio: list[Character]) -> None:
    """Many threads do purchases, pairwise trades, mail with gold and items, and grants on the
    same three characters. Refusals are fine; deadlocks, duplicates and drift are not."""
    for character in trio:
        grant(
            character,
            gold=3000,
            gems=1000,
            items=[("minor_healing_potion", 40), ("wolf_pelt", 60), ("iron_sword", 2)],
        )

    def worker(index: int) -> list[str]:
        rng = random.Random(index)
        outcomes = []
        for step in range(12):
            me, partner = rng.sample(trio, 2)
            op = rng.choice(["buy", "buy", "trade", "mail", "claim", "grant"])
            try:
                if op == "buy":
                    shop_purchase(
                        user=me.account,
                        character=me,
                        offer_id=rng.choice(["potion_pack", "mana_potion", "iron_sword"]),
                        quantity=rng.randint(1, 3),
                        idempotency_key=f"mix-{index}-{step}-{rng.randint(0, 2)}",
                    )
                elif op == "trade":
                    _quick_trade(me, partner, rng)
                elif op == "mail":
                    items = list(
                        ItemInstance.objects.filter(owner=me, container=ItemContainer.INVENTORY)
                    )
                    item = rng.choice(items) if items else None
                    mail_send(
                        sender=me,
                        recipient_name=partner.name,
                        idempotency_key=f"mixmail-{index}-{step}",
                        items=[(item.pk, 1)] if item else [],
                        currency="gold",
                        amount=rng.randint(1, 50),
                    )
                elif op == "claim":
                    from economy.selectors import mail_inbox

                    for mail_row in list(mail_inbox(character=me))[:3]:
                        mail_claim(character=me, mail_id=mail_row.pk)
                else:
                    grant(me, gold=rng.randint(1, 100))
                outcomes.append(f"{op}:ok")
            except DomainError as error:
                outcomes.append(f"{op}:{error.code}")
        return outcomes

    results = hammer(12, worker)

    flat = Counter(outcome for outcomes in results for outcome in outcomes)
    assert flat["buy:ok"] > 0
    assert sum(v for k, v in flat.items() if k.endswith(":ok")) > 20, flat
    assert_economy_sound()


def _quick_trade(me: Character, partner: Character, rng: random.Random) -> None:
    trade = trade_open(initiator=me, partner_name=partner.name)
    try:
        trade_accept(character=partner, trade_id=trade.pk)
        items = list(ItemInstance.objects.filter(owner=me, container=ItemContainer.INVENTORY))
        item = rng.choice(items) if items else None
        trade_set_offer(
            character=me,
            trade_id=trade.pk,
            items=[(item.pk, 1)] if item else [],
            currency={"gold": rng.randint(1, 200)},
        )
        trade_lock(character=me, trade_id=trade.pk)
        trade_lock(character=partner, trade_id=trade.pk)
        trade_confirm(character=me, trade_id=trade.pk)
        trade_confirm(character=partner, trade_id=trade.pk)
    finally:
        trade_cancel_for_character(me.pk, reason="test done")


def test_first_use_of_fresh_characters_under_contention(transactional_db: None) -> None:
    """Nobody has an inventory or wallet yet: the rows get created by racing use cases (grants,
    purchases, trade opens) without deadlock or duplicate rows."""
    realm = RealmFactory(slug="fresh")
    fresh = [CharacterFactory(realm=realm, name=f"Fresh{i}", level=30) for i in range(4)]

    def job(index: int) -> Any:
        me = fresh[index % 4]
        if index % 3 == 0:
            return trade_open(initiator=me, partner_name=fresh[(index + 1) % 4].name)
        if index % 3 == 1:
            return shop_purchase(
                user=me.account,
                character=me,
                offer_id="potion_pack",
                quantity=1,
                idempotency_key=f"fresh-{index}",
            )
        return grant(me, gold=10)

    results = hammer(16, job)

    assert {r for r in results if isinstance(r, str)} <= {
        "insufficient_funds",
        "already_trading",
    }
    assert Wallet.objects.filter(character__in=fresh).count() == 8
    assert_economy_sound()


def test_trade_swap_races_purchases_draining_the_same_wallet(trio: list[Character]) -> None:
    """A offers 100 of its 130 gold in a locked trade while 8 threads spend A's gold in the shop.
    Whatever the interleaving, the accounting is exact and nothing goes negative."""
    a, b, _ = trio
    for round_number in range(4):
        start_gold = wallet_balances(character_id=a.pk)["gold"]
        if start_gold < 130:
            grant(a, gold=130 - start_gold)
        start_gold = wallet_balances(character_id=a.pk)["gold"]
        trade = trade_open(initiator=a, partner_name=b.name)
        trade_accept(character=b, trade_id=trade.pk)
        trade_set_offer(character=a, trade_id=trade.pk, currency={"gold": 100})
        trade_lock(character=a, trade_id=trade.pk)
        trade_lock(character=b, trade_id=trade.pk)
        trade_confirm(character=a, trade_id=trade.pk)
        b_gold = wallet_balances(character_id=b.pk)["gold"]

        def job(index: int, trade_id: int = trade.pk, round_number: int = round_number) -> Any:
            if index == 0:
                return trade_confirm(character=b, trade_id=trade_id)
            return shop_purchase(
                user=a.account,
                character=a,
                offer_id="mana_potion",
                quantity=1,
                idempotency_key=f"drain-{round_number}-{index}",
            )

        results = hammer(9, job)

        trade.refresh_from_db()
        bought = sum(1 for r in results[1:] if not isinstance(r, str))
        traded = 100 if trade.state == TradeState.COMPLETED else 0
        assert wallet_balances(character_id=a.pk)["gold"] == start_gold - 10 * bought - traded
        assert wallet_balances(character_id=b.pk)["gold"] == b_gold + traded
        assert wallet_balances(character_id=a.pk)["gold"] >= 0
    assert_economy_sound()
