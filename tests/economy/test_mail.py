"""Mailbox: attachments wait in escrow, are claimed once, go back to the sender after expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from characters.models import Character
from economy.models import ItemContainer, ItemInstance, Mail, MailState, Wallet
from economy.selectors import inventory_get, mail_inbox, wallet_balances
from economy.services import (
    InventoryFull,
    economy_reconcile,
    mail_claim,
    mail_return_expired,
    mail_send,
)
from economy.tasks import return_expired_mail
from mmo_platform.errors import Conflict, NotFound, ValidationFailed
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


def test_send_escrows_and_claim_delivers(hero: Character, other: Character, give: Give) -> None:
    (potions,) = give(hero, gold=100, items=[("mana_potion", 5)])

    sent = mail_send(
        sender=hero,
        recipient_name="bob",
        idempotency_key="m1",
        items=[(potions, 3)],
        currency="gold",
        amount=40,
        subject="supplies",
    )

    assert wallet_balances(character_id=hero.pk)["gold"] == 60
    escrowed = ItemInstance.objects.get(container=ItemContainer.MAIL)
    assert (escrowed.quantity, escrowed.owner_id, escrowed.mail_id) == (3, None, sent.mail_id)
    escrow = Wallet.objects.get(system_code="escrow:mail", currency="gold")
    assert escrow.balance == 40
    assert [m.pk for m in mail_inbox(character=other)] == [sent.mail_id]
    assert economy_reconcile().ok

    claimed = mail_claim(character=other, mail_id=sent.mail_id)
    again = mail_claim(character=other, mail_id=sent.mail_id)

    assert claimed.state == MailState.CLAIMED and again.replayed
    assert wallet_balances(character_id=other.pk)["gold"] == 40
    assert [(i.definition_id, i.quantity) for i in inventory_get(character_id=other.pk).items] == [
        ("mana_potion", 3)
    ]
    assert list(mail_inbox(character=other)) == []
    assert economy_reconcile().ok


def test_send_is_idempotent(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=100)

    first = mail_send(
        sender=hero, recipient_name="Bob", idempotency_key="k", currency="gold", amount=10
    )
    second = mail_send(
        sender=hero, recipient_name="Bob", idempotency_key="k", currency="gold", amount=10
    )

    assert second.replayed and second.mail_id == first.mail_id
    assert wallet_balances(character_id=hero.pk)["gold"] == 90


def test_bad_mail(hero: Character, other: Character, give: Give) -> None:
    fang, bread = give(hero, gold=5, items=[("dragonfang", 1), ("bread", 2)])
    cases = [
        ({"recipient_name": "nobody"}, NotFound, "character_not_found"),
        ({"recipient_name": "alice"}, ValidationFailed, "cannot_mail_self"),
        ({"items": [(fang, 1)]}, ValidationFailed, "item_bound"),
        ({"items": [(bread, 3)]}, ValidationFailed, "invalid_quantity"),
        ({"items": [(bread, 1), (bread, 1)]}, ValidationFailed, "duplicate_item"),
        ({"currency": "gold", "amount": 6}, Conflict, "insufficient_funds"),
        ({"amount": 6}, ValidationFailed, "invalid_amount"),
        ({"subject": "x" * 81}, ValidationFailed, "mail_too_long"),
        ({"idempotency_key": ""}, ValidationFailed, "idempotency_key_required"),
    ]
    for kwargs, error, code in cases:
        arguments = {"sender": hero, "recipient_name": "Bob", "idempotency_key": "k", **kwargs}
        with pytest.raises(error) as raised:
            mail_send(**arguments)
        assert raised.value.code == code, kwargs
    assert not Mail.objects.exists()
    assert wallet_balances(character_id=hero.pk)["gold"] == 5


def test_only_the_recipient_claims(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=10)
    sent = mail_send(
        sender=hero, recipient_name="Bob", idempotency_key="k", currency="gold", amount=10
    )

    with pytest.raises(NotFound):
        mail_claim(character=hero, mail_id=sent.mail_id)
    with pytest.raises(NotFound):
        mail_claim(character=other, mail_id=999_999)


def test_full_bag_refuses_the_claim_and_keeps_the_mail(
    hero: Character, other: Character, give: Give
) -> None:
    (sword,) = give(hero, items=[("iron_sword", 1)])
    sent = mail_send(sender=hero, recipient_name="Bob", idempotency_key="k", items=[(sword, 1)])
    give(other, items=[("leather_cap", 30)])

    with pytest.raises(InventoryFull):
        mail_claim(character=other, mail_id=sent.mail_id)

    assert Mail.objects.get().state == MailState.SENT
    assert ItemInstance.objects.get(pk=sword).container == ItemContainer.MAIL


def test_expired_mail_returns_to_sender(hero: Character, other: Character, give: Give) -> None:
    (sword,) = give(hero, gold=10, items=[("iron_sword", 1)])
    sent = mail_send(
        sender=hero,
        recipient_name="Bob",
        idempotency_key="k",
        items=[(sword, 1)],
        currency="gold",
        amount=10,
    )
    Mail.objects.filter(pk=sent.mail_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Conflict) as expired:
        mail_claim(character=other, mail_id=sent.mail_id)
    assert expired.value.code == "mail_expired"

    assert return_expired_mail.delay().get() == 1
    assert mail_return_expired() == 0  # nothing left to return: safe to repeat

    mail = Mail.objects.get()
    assert (mail.state, mail.recipient_id) == (MailState.RETURNED, hero.pk)
    mail_claim(character=hero, mail_id=sent.mail_id)
    assert ItemInstance.objects.get(pk=sword).owner_id == hero.pk
    assert wallet_balances(character_id=hero.pk)["gold"] == 10
    assert economy_reconcile().ok
