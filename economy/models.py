"""Economy: item definitions, inventories, wallets on a double-entry ledger, shop, trades, mail.

Invariants (kept by the services in economy/services/, proven by ``economy_reconcile``):

- Every value change is one ``LedgerTransaction``; its ``LedgerPosting`` rows sum to zero per
  currency. Money enters through *issuer* wallets (``system:mint:loot``, ``system:gm``, ...),
  whose balance is minus what they issued, so the sum of all wallet balances per currency is 0.
- ``Wallet.balance`` equals the sum of its postings; player and escrow wallets never go below
  zero (a database CHECK, not just a Python ``if``).
- Every change of an ``ItemInstance`` is an ``ItemMovement`` with the signed ``delta`` of its
  quantity; ``quantity`` equals the sum of its deltas. Items are never deleted: destroyed,
  revoked and merged-away stacks stay as rows so the history keeps pointing at something.
- Lock order for every write (ADR 0031): account (per-account offer limits only) → inventories
  → the offer / trade / mail row → wallets → item instances, each group by primary key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

DEFAULT_INVENTORY_CAPACITY = 30


class Currency(models.TextChoices):
    GOLD = "gold", "Gold"
    GEMS = "gems", "Gems"


class ItemDefinition(models.Model):
    """Database mirror of one entry of content/items.json (synced by ``catalog_sync``)."""

    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=16)
    rarity = models.CharField(max_length=16)
    stack_size = models.PositiveIntegerField()
    equip_slot = models.CharField(max_length=24, blank=True, default="")
    stats = models.JSONField(default=dict, blank=True)
    vendor_price = models.BigIntegerField(default=0)
    tradable = models.BooleanField(default=True)
    binds = models.CharField(max_length=8, default="none")
    level_required = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True, default="")
    # Removed from content while instances may still exist: kept, never granted again.
    retired = models.BooleanField(default=False)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["type", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class Inventory(models.Model):
    """A character's bag: its capacity, and the row every economy write for the character
    locks first (so slot assignment never races)."""

    character = models.OneToOneField(
        "characters.Character", on_delete=models.PROTECT, related_name="inventory"
    )
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_INVENTORY_CAPACITY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "inventories"

    def __str__(self) -> str:
        return f"Inventory of character {self.character_id}"


class WalletKind(models.TextChoices):
    PLAYER = "player", "Player"
    # Issuers are where currency comes from (mint:loot, gm) and where sinks send it: their balance
    # is minus the net amount issued, so they alone may be negative.
    ISSUER = "issuer", "Issuer"
    # Escrow and revenue accounts (shop, escrow:mail): never negative.
    SYSTEM = "system", "System"


class Wallet(models.Model):
    kind = models.CharField(max_length=8, choices=WalletKind.choices, default=WalletKind.PLAYER)
    character = models.ForeignKey(
        "characters.Character",
        on_delete=models.PROTECT,
        related_name="wallets",
        null=True,
        blank=True,
    )
    system_code = models.CharField(max_length=40, blank=True, default="")
    # System accounts are split into shards so concurrent purchases do not queue on one row.
    shard = models.PositiveSmallIntegerField(default=0)
    currency = models.CharField(max_length=8, choices=Currency.choices)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["character", "currency"],
                condition=Q(character__isnull=False),
                name="economy_wallet_one_per_character_currency",
            ),
            models.UniqueConstraint(
                fields=["system_code", "currency", "shard"],
                condition=Q(character__isnull=True),
                name="economy_wallet_one_per_system_account",
            ),
            models.CheckConstraint(
                condition=Q(kind=WalletKind.ISSUER) | Q(balance__gte=0),
                name="economy_wallet_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=WalletKind.PLAYER, character__isnull=False, system_code="")
                    | (~Q(kind=WalletKind.PLAYER) & Q(character__isnull=True) & ~Q(system_code=""))
                ),
                name="economy_wallet_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        if self.character_id is not None:
            return f"{self.currency} wallet of character {self.character_id}"
        return f"system:{self.system_code}#{self.shard} ({self.currency})"

    @property
    def label(self) -> str:
        if self.character_id is not None:
            return f"character:{self.character_id}"
        return f"system:{self.system_code}"


class TransactionKind(models.TextChoices):
    LOOT = "loot", "Loot"
    SHOP = "shop", "Shop purchase"
    REFUND = "refund", "Refund"
    TRADE = "trade", "Trade"
    GM_GRANT = "gm_grant", "GM grant"
    GM_REVOKE = "gm_revoke", "GM revoke"
    MAIL_SEND = "mail_send", "Mail sent"
    MAIL_CLAIM = "mail_claim", "Mail claimed"
    MAIL_RETURN = "mail_return", "Mail returned"
    INVENTORY = "inventory", "Inventory move"
    EQUIP = "equip", "Equip / unequip"
    DESTROY = "destroy", "Destroyed"
    CONSUME = "consume", "Consumed"


class LedgerTransaction(models.Model):
    """One economy change. Its postings (currency) and movements (items) say what moved."""

    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    # A retried request carries the same key and gets the first result back (ADR 0032).
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept even if the actor account is removed later: the audit must still say who.
    actor_label = models.CharField(max_length=150, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class LedgerPosting(models.Model):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="postings"
    )
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="postings")
    currency = models.CharField(max_length=8, choices=Currency.choices)
    amount = models.BigIntegerField(help_text="Signed: positive credits the wallet.")
    balance_after = models.BigIntegerField()

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["wallet", "transaction"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="economy_posting_not_zero")
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.currency} on wallet {self.wallet_id}"


class ItemContainer(models.TextChoices):
    INVENTORY = "inventory", "Inventory"
    EQUIPMENT = "equipment", "Equipped"
    MAIL = "mail", "Mail escrow"
    # Only inside a trade's swap transaction: outgoing items wait here while slots are freed.
    TRADE = "trade", "Trade escrow"
    DESTROYED = "destroyed", "Destroyed"
    CONSUMED = "consumed", "Consumed"
    REVOKED = "revoked", "Revoked (refund / GM)"
    # A stack whose whole quantity was stacked onto another: an empty row kept for history.
    MERGED = "merged", "Merged away"


class MovementPlace(models.TextChoices):
    """Where an item movement starts or ends: the containers plus the outside world."""

    MINT = "mint", "Created (loot, shop, GM)"
    INVENTORY = "inventory", "Inventory"
    EQUIPMENT = "equipment", "Equipped"
    MAIL = "mail", "Mail escrow"
    TRADE = "trade", "Trade escrow"
    DESTROYED = "destroyed", "Destroyed"
    CONSUMED = "consumed", "Consumed"
    REVOKED = "revoked", "Revoked (refund / GM)"
    MERGED = "merged", "Merged away"


ESCROW_CONTAINERS = (ItemContainer.MAIL, ItemContainer.TRADE)


class ItemInstance(models.Model):
    """A stack (stackable definitions, quantity up to ``stack_size``) or one unique item."""

    definition = models.ForeignKey(ItemDefinition, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    owner = models.ForeignKey(
        "characters.Character",
        on_delete=models.PROTECT,
        related_name="items",
        null=True,
        blank=True,
    )
    container = models.CharField(max_length=12, choices=ItemContainer.choices)
    slot = models.PositiveSmallIntegerField(null=True, blank=True)
    equip_slot = models.CharField(max_length=24, blank=True, default="")
    mail = models.ForeignKey(
        "economy.Mail", on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    bound = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["owner", "container"])]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "slot"],
                condition=Q(container=ItemContainer.INVENTORY),
                name="economy_item_one_per_inventory_slot",
            ),
            models.UniqueConstraint(
                fields=["owner", "equip_slot"],
                condition=Q(container=ItemContainer.EQUIPMENT),
                name="economy_item_one_per_equip_slot",
            ),
            models.CheckConstraint(
                condition=Q(container=ItemContainer.MERGED) | Q(quantity__gt=0),
                name="economy_item_quantity_positive",
            ),
            models.CheckConstraint(
                condition=~Q(container=ItemContainer.INVENTORY)
                | Q(owner__isnull=False, slot__isnull=False),
                name="economy_item_inventory_has_slot",
            ),
            models.CheckConstraint(
                condition=~Q(container=ItemContainer.EQUIPMENT)
                | (Q(owner__isnull=False) & ~Q(equip_slot="")),
                name="economy_item_equipment_has_slot",
            ),
            models.CheckConstraint(
                condition=~Q(container=ItemContainer.MAIL) | Q(mail__isnull=False),
                name="economy_item_mail_has_mail",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.definition_id} x{self.quantity} ({self.container})"

    @property
    def place(self) -> str:
        if self.container == ItemContainer.INVENTORY:
            return f"inventory:{self.slot}"
        if self.container == ItemContainer.EQUIPMENT:
            return f"equipment:{self.equip_slot}"
        if self.container == ItemContainer.MAIL:
            return f"mail:{self.mail_id}"
        return str(self.container)


class ItemMovement(models.Model):
    """One change of one item instance: ``delta`` is the signed change of its quantity (0 for a
    pure relocation), ``quantity`` how many units the row is about."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="movements"
    )
    item = models.ForeignKey(ItemInstance, on_delete=models.PROTECT, related_name="movements")
    definition = models.ForeignKey(ItemDefinition, on_delete=models.PROTECT, related_name="+")
    delta = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    from_place = models.CharField(max_length=12, choices=MovementPlace.choices)
    from_character = models.ForeignKey(
        "characters.Character",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    from_detail = models.CharField(max_length=40, blank=True, default="")
    to_place = models.CharField(max_length=12, choices=MovementPlace.choices)
    to_character = models.ForeignKey(
        "characters.Character",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    to_detail = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["item", "transaction"]),
            models.Index(fields=["from_character", "transaction"]),
            models.Index(fields=["to_character", "transaction"]),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id} {self.delta:+d} {self.from_place}→{self.to_place}"


class ShopOffer(models.Model):
    """A shop offer (content/shop.json, synced by ``catalog_sync``) and its sold counter."""

    id = models.CharField(primary_key=True, max_length=64)
    item = models.ForeignKey(ItemDefinition, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField(default=1, help_text="Items per purchase.")
    currency = models.CharField(max_length=8, choices=Currency.choices)
    price = models.BigIntegerField()
    stock_limit = models.PositiveIntegerField(null=True, blank=True)
    stock_sold = models.PositiveIntegerField(default=0)
    per_account_limit = models.PositiveIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    retired = models.BooleanField(default=False)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["currency", "price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="economy_offer_price_positive"),
            # The stock guard is the database's too: an oversell cannot commit.
            models.CheckConstraint(
                condition=Q(stock_limit__isnull=True) | Q(stock_sold__lte=models.F("stock_limit")),
                name="economy_offer_not_oversold",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def stock_left(self) -> int | None:
        if self.stock_limit is None:
            return None
        return max(self.stock_limit - self.stock_sold, 0)


class PurchaseState(models.TextChoices):
    COMPLETED = "completed", "Completed"
    REFUNDED = "refunded", "Refunded"


class Purchase(models.Model):
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases"
    )
    character = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="purchases"
    )
    offer = models.ForeignKey(ShopOffer, on_delete=models.PROTECT, related_name="purchases")
    quantity = models.PositiveIntegerField(help_text="Number of offers bought.")
    items_granted = models.PositiveIntegerField()
    currency = models.CharField(max_length=8, choices=Currency.choices)
    unit_price = models.BigIntegerField()
    total_price = models.BigIntegerField()
    state = models.CharField(
        max_length=12, choices=PurchaseState.choices, default=PurchaseState.COMPLETED
    )
    transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="purchase"
    )
    refund_transaction = models.OneToOneField(
        LedgerTransaction,
        on_delete=models.PROTECT,
        related_name="refunded_purchase",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["account", "offer", "state"])]

    def __str__(self) -> str:
        return f"Purchase #{self.pk} {self.offer_id} x{self.quantity}"


class TradeState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    OPEN = "open", "Open"
    LOCKED_A = "locked_a", "Locked by initiator"
    LOCKED_B = "locked_b", "Locked by partner"
    BOTH_LOCKED = "both_locked", "Both locked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


TRADE_ACTIVE_STATES = (
    TradeState.PROPOSED,
    TradeState.OPEN,
    TradeState.LOCKED_A,
    TradeState.LOCKED_B,
    TradeState.BOTH_LOCKED,
)


class Trade(models.Model):
    """A player-to-player trade: side "a" is the initiator, side "b" the partner."""

    character_a = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="+"
    )
    character_b = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=12, choices=TradeState.choices)
    # Each side's offer version grows on every change; a lock is valid only for the versions
    # it saw, and the swap re-checks the item snapshot taken when both sides were locked.
    version_a = models.PositiveIntegerField(default=0)
    version_b = models.PositiveIntegerField(default=0)
    locked_versions = models.JSONField(null=True, blank=True)
    lock_snapshot = models.JSONField(null=True, blank=True)
    confirmed_a = models.BooleanField(default=False)
    confirmed_b = models.BooleanField(default=False)
    cancel_reason = models.CharField(max_length=200, blank=True, default="")
    transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="trade"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(character_a=models.F("character_b")),
                name="economy_trade_two_characters",
            )
        ]
        indexes = [
            models.Index(fields=["character_a", "state"]),
            models.Index(fields=["character_b", "state"]),
        ]

    def __str__(self) -> str:
        return f"Trade #{self.pk} ({self.state})"

    def side_of(self, character_id: int) -> str | None:
        if character_id == self.character_a_id:
            return "a"
        if character_id == self.character_b_id:
            return "b"
        return None


class TradeLine(models.Model):
    """One entry of one side's offer: an item stack (part of it) or an amount of currency."""

    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="lines")
    side = models.CharField(max_length=1, choices=[("a", "Initiator"), ("b", "Partner")])
    item = models.ForeignKey(
        ItemInstance, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=8, choices=Currency.choices, blank=True, default="")
    amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["side", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(item__isnull=False, quantity__gt=0, currency="", amount=0))
                | (Q(item__isnull=True, quantity=0, amount__gt=0) & ~Q(currency="")),
                name="economy_tradeline_item_xor_currency",
            )
        ]

    def __str__(self) -> str:
        if self.item_id is not None:
            return f"side {self.side}: item #{self.item_id} x{self.quantity}"
        return f"side {self.side}: {self.amount} {self.currency}"


class MailState(models.TextChoices):
    SENT = "sent", "Waiting for the recipient"
    RETURNED = "returned", "Returned, waiting for the sender"
    CLAIMED = "claimed", "Claimed"


class Mail(models.Model):
    """A letter with attachments held in escrow until claimed (or returned after expiry)."""

    sender = models.ForeignKey("characters.Character", on_delete=models.PROTECT, related_name="+")
    # Who may claim it now: the original recipient, or the sender once it has been returned.
    recipient = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="+"
    )
    original_recipient = models.ForeignKey(
        "characters.Character", on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(max_length=80, blank=True, default="")
    body = models.TextField(blank=True, default="", max_length=2000)
    currency = models.CharField(max_length=8, choices=Currency.choices, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=MailState.choices, default=MailState.SENT)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    send_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="mail_sent"
    )
    claim_transaction = models.OneToOneField(
        LedgerTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mail_claimed",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "state"]),
            models.Index(fields=["state", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="economy_mail_amount_positive")
        ]

    def __str__(self) -> str:
        return f"Mail #{self.pk} ({self.state})"


class ReconciliationRun(models.Model):
    """One run of ``economy_reconcile``; a row with ``ok=False`` is the alert, with details."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=True)
    mismatch_count = models.PositiveIntegerField(default=0)
    checked = models.JSONField(default=dict, blank=True)
    mismatches = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"Reconciliation {self.started_at:%Y-%m-%d %H:%M} ({'ok' if self.ok else 'MISMATCH'})"
        )
