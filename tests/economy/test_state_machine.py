"""Property test: random sequences of economy operations (grant, purchase incl. retries,
refund, move, split, stack, equip, destroy, trade, mail, claim, expiry) keep every invariant
after every step:

- balances equal the ledger (``economy_reconcile`` is clean) and a model kept beside the run;
- no player wallet is negative; all wallets of a currency sum to zero (double entry);
- item supply is conserved: per definition, all rows together hold exactly what was minted;
- no row holds more than its stack size (nothing duplicated).

Each example runs inside a savepoint that is rolled back, so examples do not see each other.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from characters.models import Character
from economy.catalog import get_catalog
from economy.models import (
    ItemContainer,
    ItemInstance,
    ItemMovement,
    Mail,
    MailState,
    MovementPlace,
    Purchase,
    PurchaseState,
    TradeState,
    Wallet,
    WalletKind,
)
from economy.services import (
    economy_grant,
    economy_reconcile,
    inventory_destroy,
    inventory_equip,
    inventory_move,
    inventory_split,
    inventory_stack,
    inventory_unequip,
    mail_claim,
    mail_return_expired,
    mail_send,
    shop_purchase,
    shop_refund,
    trade_accept,
    trade_cancel,
    trade_confirm,
    trade_lock,
    trade_open,
    trade_set_offer,
)
from mmo_platform.errors import DomainError
from tests.characters.factories import CharacterFactory, RealmFactory
from tests.factories import UserFactory

GRANTABLE = [
    "iron_sword",
    "leather_cap",
    "minor_healing_potion",
    "wolf_pelt",
    "dragonfang",
    "bread",
]
OFFERS = ["potion_pack", "mana_potion", "iron_sword", "elixir_of_might_limited", "crown_of_stars"]
CURRENCIES = ["gold", "gems"]
_serial = itertools.count()

characters_idx = st.integers(min_value=0, max_value=2)
pick = st.integers(min_value=0, max_value=1000)


class EconomyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        run = next(_serial)
        realm = RealmFactory(slug=f"sm-{run}")
        self.gm = UserFactory(username=f"gm{run}", is_staff=True)
        self.chars: list[Character] = [
            CharacterFactory(realm=realm, name=f"Sm{run}x{i}", level=30) for i in range(3)
        ]
        self.expected: dict[tuple[int, str], int] = defaultdict(int)
        self.keys = itertools.count()
        self.last_purchase_key: tuple[int, str, str, int, int] | None = None

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # helpers ---------------------------------------------------------------------------

    def key(self) -> str:
        return f"sm-{next(self.keys)}"

    def items_of(
        self, character: Character, container: str = ItemContainer.INVENTORY
    ) -> list[ItemInstance]:
        return list(
            ItemInstance.objects.filter(owner=character, container=container).order_by("pk")
        )

    def choose(self, rows: list[Any], index: int) -> Any:
        return rows[index % len(rows)] if rows else None

    # rules -----------------------------------------------------------------------------

    @rule(c=characters_idx, currency=st.sampled_from(CURRENCIES), amount=st.integers(1, 2000))
    def grant_currency(self, c: int, currency: str, amount: int) -> None:
        character = self.chars[c]
        economy_grant(
            character=character,
            source="loot",
            actor=None,
            reason="",
            idempotency_key=self.key(),
            currency=currency,
            amount=amount,
        )
        self.expected[(character.pk, currency)] += amount

    @rule(c=characters_idx, item=st.sampled_from(GRANTABLE), quantity=st.integers(1, 60))
    def grant_items(self, c: int, item: str, quantity: int) -> None:
        with contextlib.suppress(DomainError):  # a full bag refuses: fine
            economy_grant(
                character=self.chars[c],
                source="gm",
                actor=self.gm,
                reason="",
                idempotency_key=self.key(),
                items=[(item, quantity)],
            )

    @rule(
        c=characters_idx,
        offer=st.sampled_from(OFFERS),
        quantity=st.integers(1, 3),
        retry=st.booleans(),
    )
    def purchase(self, c: int, offer: str, quantity: int, retry: bool) -> None:
        character = self.chars[c]
        if retry and self.last_purchase_key is not None:
            c_pk, key, offer, quantity, _ = self.last_purchase_key
            character = next(ch for ch in self.chars if ch.pk == c_pk)
        else:
            key = self.key()
        try:
            result = shop_purchase(
                user=character.account,
                character=character,
                offer_id=offer,
                quantity=quantity,
                idempotency_key=key,
            )
        except DomainError:
            return
        if not result.replayed:
            self.expected[(character.pk, result.currency)] -= result.total_price
            self.last_purchase_key = (character.pk, key, offer, quantity, result.purchase_id)
        else:
            assert (
                self.last_purchase_key is not None
                and result.purchase_id == self.last_purchase_key[4]
            )

    @rule(index=pick, revoke=st.booleans())
    def refund(self, index: int, revoke: bool) -> None:
        purchases = list(
            Purchase.objects.filter(
                character__in=self.chars, state=PurchaseState.COMPLETED
            ).order_by("pk")
        )
        purchase = self.choose(purchases, index)
        if purchase is None:
            return
        try:
            shop_refund(
                purchase_id=purchase.pk,
                actor=self.gm,
                reason="sm",
                idempotency_key=self.key(),
                revoke_items=revoke,
            )
        except DomainError:
            return
        self.expected[(purchase.character_id, purchase.currency)] += purchase.total_price

    @rule(
        c=characters_idx,
        index=pick,
        slot=st.integers(0, 29),
        op=st.sampled_from(["move", "split", "stack", "equip", "unequip", "destroy"]),
    )
    def inventory(self, c: int, index: int, slot: int, op: str) -> None:
        character = self.chars[c]
        items = self.items_of(character)
        item = self.choose(items, index)
        try:
            if op == "unequip":
                worn = self.choose(self.items_of(character, ItemContainer.EQUIPMENT), index)
                if worn is not None:
                    inventory_unequip(character=character, equip_slot=worn.equip_slot)
            elif item is None:
                return
            elif op == "move":
                inventory_move(character=character, item_id=item.pk, slot=slot)
            elif op == "split":
                inventory_split(
                    character=character, item_id=item.pk, quantity=max(item.quantity // 2, 1)
                )
            elif op == "stack":
                target = self.choose(items, index + 1)
                inventory_stack(
                    character=character, source_item_id=item.pk, target_item_id=target.pk
                )
            elif op == "equip":
                inventory_equip(character=character, item_id=item.pk)
            else:
                inventory_destroy(
                    character=character,
                    item_id=item.pk,
                    quantity=1,
                    confirm=True,
                    idempotency_key=self.key(),
                )
        except DomainError:
            pass

    @rule(
        a=characters_idx,
        b=characters_idx,
        index=pick,
        gold=st.integers(0, 300),
        meddle=st.booleans(),
    )
    def trade(self, a: int, b: int, index: int, gold: int, meddle: bool) -> None:
        if a == b:
            return
        giver, taker = self.chars[a], self.chars[b]
        item = self.choose(self.items_of(giver), index)
        try:
            trade = trade_open(initiator=giver, partner_name=taker.name)
        except DomainError:
            return
        try:
            trade_accept(character=taker, trade_id=trade.pk)
            trade_set_offer(
                character=giver,
                trade_id=trade.pk,
                items=[(item.pk, item.quantity)] if item else [],
                currency={"gold": gold} if gold else {},
            )
            trade_lock(character=giver, trade_id=trade.pk)
            trade_lock(character=taker, trade_id=trade.pk)
            trade_confirm(character=giver, trade_id=trade.pk)
            if meddle and item is not None and item.quantity > 1:
                inventory_split(character=giver, item_id=item.pk, quantity=1)
            done = trade_confirm(character=taker, trade_id=trade.pk)
        except DomainError:
            trade.refresh_from_db()
            if trade.state not in (TradeState.CANCELLED, TradeState.COMPLETED):
                trade_cancel(character=giver, trade_id=trade.pk)
            return
        assert done.state == TradeState.COMPLETED
        self.expected[(giver.pk, "gold")] -= gold
        self.expected[(taker.pk, "gold")] += gold

    @rule(a=characters_idx, b=characters_idx, index=pick, gold=st.integers(0, 100))
    def mail(self, a: int, b: int, index: int, gold: int) -> None:
        sender, recipient = self.chars[a], self.chars[b]
        item = self.choose(self.items_of(sender), index)
        try:
            mail_send(
                sender=sender,
                recipient_name=recipient.name,
                idempotency_key=self.key(),
                items=[(item.pk, item.quantity)] if item else [],
                currency="gold" if gold else None,
                amount=gold,
            )
        except DomainError:
            return
        self.expected[(sender.pk, "gold")] -= gold

    @rule(index=pick, expire=st.booleans())
    def claim(self, index: int, expire: bool) -> None:
        waiting = list(
            Mail.objects.filter(
                sender__in=self.chars, state__in=[MailState.SENT, MailState.RETURNED]
            ).order_by("pk")
        )
        mail = self.choose(waiting, index)
        if mail is None:
            return
        if expire and mail.state == MailState.SENT:
            Mail.objects.filter(pk=mail.pk).update(expires_at=mail.created_at)
            mail_return_expired()
            mail.refresh_from_db()
        recipient = next(ch for ch in self.chars if ch.pk == mail.recipient_id)
        try:
            mail_claim(character=recipient, mail_id=mail.pk)
        except DomainError:
            return
        self.expected[(recipient.pk, "gold")] += mail.amount

    # invariants ------------------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self) -> None:
        report = economy_reconcile()
        assert report.ok, report.as_dict()

    @invariant()
    def balances_match_the_model_and_are_never_negative(self) -> None:
        for character in self.chars:
            for currency in CURRENCIES:
                wallet = Wallet.objects.filter(character=character, currency=currency).first()
                balance = wallet.balance if wallet else 0
                assert balance >= 0
                assert balance == self.expected[(character.pk, currency)]

    @invariant()
    def double_entry_sums_to_zero(self) -> None:
        for currency in CURRENCIES:
            total = Wallet.objects.filter(currency=currency).aggregate(s=Sum("balance"))["s"] or 0
            assert total == 0
        assert not Wallet.objects.exclude(kind=WalletKind.ISSUER).filter(balance__lt=0).exists()

    @invariant()
    def item_supply_is_conserved(self) -> None:
        minted = dict(
            ItemMovement.objects.filter(from_place=MovementPlace.MINT)
            .values_list("definition_id")
            .annotate(s=Sum("delta"))
        )
        held = dict(ItemInstance.objects.values_list("definition_id").annotate(s=Sum("quantity")))
        assert held == minted
        catalog = get_catalog()
        for definition_id, quantity in ItemInstance.objects.values_list(
            "definition_id", "quantity"
        ):
            assert quantity <= catalog.items[definition_id].stack_size


@pytest.mark.django_db
def test_economy_invariants_hold_for_random_operation_sequences() -> None:
    run_state_machine_as_test(
        EconomyMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
