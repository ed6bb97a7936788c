"""Mailbox: send items and currency to another character (online or not) through escrow.

- ``mail_send`` moves the attachments out of the sender's inventory into mail escrow (items in
  container ``mail``, currency into the ``escrow:mail`` system account) in one transaction.
- ``mail_claim`` moves them into the recipient's inventory and wallet (all or nothing: a full
  bag refuses the claim and leaves the mail waiting).
- ``mail_return_expired`` (Celery, hourly) readdresses mail nobody claimed in time to its sender,
  who then claims it the same way. Returned mail does not expire again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from characters.models import Character
from economy.models import (
    ItemContainer,
    ItemInstance,
    LedgerTransaction,
    Mail,
    MailState,
    TransactionKind,
    WalletKind,
)
from economy.services._bag import held_item, open_bags
from economy.services._core import (
    Book,
    Place,
    begin_transaction,
    check_active_character,
    check_amount,
    check_client_key,
    check_currency,
    check_quantity,
    ensure_system_wallet,
    ensure_wallet,
    find_transaction,
    item_definition,
    lock_accounts,
    lock_wallets,
    run_idempotent,
    system_wallet_shard,
)
from mmo_platform.errors import Conflict, NotFound, ValidationFailed

ESCROW_ACCOUNT = "escrow:mail"
MAX_SUBJECT = 80
MAX_BODY = 2000


@dataclass(frozen=True)
class MailResult:
    mail_id: int
    transaction_id: int
    state: str
    replayed: bool = False


def _find_recipient(sender: Character, name: str) -> Character:
    recipient = Character.objects.filter(
        realm_id=sender.realm_id,
        name_key=(name or "").strip().casefold(),
        deleted_at__isnull=True,
        purged_at__isnull=True,
    ).first()
    if recipient is None:
        raise NotFound("No character of that name in this realm.", code="character_not_found")
    if recipient.pk == sender.pk:
        raise ValidationFailed("You cannot mail yourself.", code="cannot_mail_self")
    return recipient


def mail_send(
    *,
    sender: Character,
    recipient_name: str,
    idempotency_key: str,
    items: Sequence[tuple[int, int]] = (),
    currency: str | None = None,
    amount: int = 0,
    subject: str = "",
    body: str = "",
) -> MailResult:
    """Send a letter with up to ``ECONOMY_MAIL_MAX_ATTACHMENTS`` item stacks and/or currency to a
    character of the same realm. Bound and non-tradable items are refused."""
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        raise ValidationFailed("Subject or body too long.", code="mail_too_long")
    if len(items) > settings.ECONOMY_MAIL_MAX_ATTACHMENTS:
        raise ValidationFailed("Too many attachments.", code="too_many_attachments")
    if len({item_id for item_id, _ in items}) != len(items):
        raise ValidationFailed("An item is attached twice.", code="duplicate_item")
    for _, quantity in items:
        check_quantity(quantity)
    if currency is not None:
        check_currency(currency)
        check_amount(amount)
    elif amount:
        raise ValidationFailed("amount needs a currency.", code="invalid_amount")
    key = f"{TransactionKind.MAIL_SEND}:c{sender.pk}:{check_client_key(idempotency_key)}"
    recipient = _find_recipient(sender, recipient_name)
    fingerprint = {
        "recipient": recipient.pk,
        "items": [list(pair) for pair in items],
        "currency": currency,
        "amount": amount,
    }

    def work() -> MailResult:
        check_active_character(sender)
        wallets = []
        if currency is not None:
            wallets = [
                ensure_wallet(sender, currency),
                ensure_system_wallet(
                    ESCROW_ACCOUNT, currency, shard=system_wallet_shard(sender.pk)
                ),
            ]
        locks = lock_accounts(characters=[sender], wallets=wallets)
        tx = begin_transaction(
            kind=TransactionKind.MAIL_SEND,
            key=key,
            fingerprint=fingerprint,
            reason=f"mail to {recipient.name}",
        )
        book = Book(tx, locks)
        now = book.now
        mail = Mail.objects.create(
            sender=sender,
            recipient=recipient,
            original_recipient=recipient,
            subject=subject,
            body=body,
            currency=currency or "",
            amount=amount if currency else 0,
            created_at=now,
            expires_at=now + timedelta(days=settings.ECONOMY_MAIL_EXPIRY_DAYS),
            send_transaction=tx,
        )
        if currency is not None:
            book.transfer(source=wallets[0], target=wallets[1], amount=amount)
        bag = open_bags([sender], locks, book)[sender.pk]
        for item_id, quantity in items:
            item = held_item(bag, item_id)
            if item.bound or not item_definition(item.definition_id).tradable:
                raise ValidationFailed(
                    "Bound or non-tradable items cannot be mailed.", code="item_bound", item=item_id
                )
            if quantity > item.quantity:
                raise ValidationFailed("The stack holds fewer than that.", code="invalid_quantity")
            bag.take(item, quantity, container=ItemContainer.MAIL, mail_id=mail.pk)
        book.finish()
        return MailResult(mail_id=mail.pk, transaction_id=tx.pk, state=mail.state)

    def replay(tx: LedgerTransaction) -> MailResult:
        mail = Mail.objects.get(send_transaction=tx)
        return MailResult(mail_id=mail.pk, transaction_id=tx.pk, state=mail.state, replayed=True)

    return run_idempotent(
        kind=TransactionKind.MAIL_SEND, key=key, fingerprint=fingerprint, work=work, replay=replay
    )


def mail_claim(*, character: Character, mail_id: int) -> MailResult:
    """Take a letter's attachments. Idempotent by nature: a mail is claimed once (ledger key
    ``mail_claim:<id>``); repeating the call returns that claim."""
    key = f"{TransactionKind.MAIL_CLAIM}:{int(mail_id)}"
    fingerprint = {"mail": int(mail_id)}

    def replay(tx: LedgerTransaction) -> MailResult:
        mail = Mail.objects.get(claim_transaction=tx)
        if mail.recipient_id != character.pk:
            raise NotFound("No such mail.", code="mail_not_found")
        return MailResult(mail_id=mail.pk, transaction_id=tx.pk, state=mail.state, replayed=True)

    def work() -> MailResult:
        check_active_character(character)
        locks = lock_accounts(characters=[character])
        mail = Mail.objects.select_for_update().filter(pk=mail_id).first()
        if mail is None or mail.recipient_id != character.pk:
            raise NotFound("No such mail.", code="mail_not_found")
        if mail.state == MailState.CLAIMED:
            done = find_transaction(key)
            assert done is not None
            return replay(done)
        if mail.state == MailState.SENT and timezone.now() >= mail.expires_at:
            raise Conflict(
                "This mail has expired and goes back to its sender.", code="mail_expired"
            )
        wallets = []
        if mail.currency:
            escrow_posting = mail.send_transaction.postings.select_related("wallet").get(
                wallet__kind=WalletKind.SYSTEM
            )
            wallets = [ensure_wallet(character, mail.currency), escrow_posting.wallet]
        lock_wallets(locks, wallets)
        tx = begin_transaction(
            kind=TransactionKind.MAIL_CLAIM,
            key=key,
            fingerprint=fingerprint,
            reason=f"mail #{mail.pk} from character {mail.sender_id}",
            metadata={"mail": mail.pk},
        )
        book = Book(tx, locks)
        if mail.currency:
            book.transfer(source=wallets[1], target=wallets[0], amount=mail.amount)
        bag = open_bags([character], locks, book)[character.pk]
        attachments = (
            ItemInstance.objects.select_for_update()
            .filter(mail=mail, container=ItemContainer.MAIL)
            .order_by("pk")
        )
        for item in attachments:
            bag.receive(item, item.quantity, item_definition(item.definition_id))
        mail.state = MailState.CLAIMED
        mail.claimed_at = book.now
        mail.claim_transaction = tx
        mail.save(update_fields=["state", "claimed_at", "claim_transaction"])
        book.finish()
        return MailResult(mail_id=mail.pk, transaction_id=tx.pk, state=mail.state)

    return run_idempotent(
        kind=TransactionKind.MAIL_CLAIM, key=key, fingerprint=fingerprint, work=work, replay=replay
    )


def mail_return_expired(*, now: datetime | None = None, limit: int = 500) -> int:
    """Readdress unclaimed mail past its expiry to the sender. Safe to run concurrently and
    repeatedly (rows are locked with SKIP LOCKED; the ledger key is per mail)."""
    moment = now or timezone.now()
    returned = 0
    candidates = list(
        Mail.objects.filter(state=MailState.SENT, expires_at__lte=moment)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for mail_pk in candidates:
        with transaction.atomic():
            mail = (
                Mail.objects.select_for_update(skip_locked=True)
                .filter(pk=mail_pk, state=MailState.SENT)
                .first()
            )
            if mail is None:
                continue
            _return_one(mail, moment)
            returned += 1
    return returned


def _return_one(mail: Mail, moment: datetime) -> None:
    tx = begin_transaction(
        kind=TransactionKind.MAIL_RETURN,
        key=f"{TransactionKind.MAIL_RETURN}:{mail.pk}",
        fingerprint={"mail": mail.pk},
        reason=f"unclaimed for {settings.ECONOMY_MAIL_EXPIRY_DAYS} days: back to the sender",
        metadata={"mail": mail.pk},
    )
    book = Book(tx, lock_accounts())
    place = Place(ItemContainer.MAIL, None, str(mail.pk))
    for item in ItemInstance.objects.filter(mail=mail, container=ItemContainer.MAIL):
        book.record(
            item,
            delta=0,
            quantity=item.quantity,
            source=Place(place.place, mail.recipient_id, place.detail),
            target=Place(place.place, mail.sender_id, place.detail),
        )
    book.finish()
    mail.state = MailState.RETURNED
    mail.recipient_id = mail.sender_id
    mail.returned_at = moment
    mail.save(update_fields=["state", "recipient", "returned_at"])
