"""Economy use cases (writes). Each is one ``transaction.atomic()`` that locks rows in the house
order (ADR 0031) and records a ledger transaction with an idempotency key (ADR 0032).

Import from here: ``from economy.services import wallet_grant, shop_purchase, ...``.
"""

from economy.services._core import (
    MAX_AMOUNT,
    MAX_CLIENT_KEY_LENGTH,
    MAX_QUANTITY,
    InsufficientFunds,
    InventoryFull,
)
from economy.services.catalog_sync import catalog_sync
from economy.services.inventory import (
    InventoryResult,
    inventory_consume,
    inventory_destroy,
    inventory_equip,
    inventory_move,
    inventory_split,
    inventory_stack,
    inventory_unequip,
)
from economy.services.mail import MailResult, mail_claim, mail_return_expired, mail_send
from economy.services.reconciliation import ReconciliationReport, economy_reconcile
from economy.services.shop import PurchaseResult, shop_purchase, shop_refund
from economy.services.trades import (
    trade_accept,
    trade_cancel,
    trade_cancel_for_character,
    trade_confirm,
    trade_expire_stale,
    trade_lock,
    trade_open,
    trade_set_offer,
)
from economy.services.wallets import (
    GrantResult,
    economy_grant,
    item_grant,
    wallet_grant,
    wallet_revoke,
)

__all__ = [
    "MAX_AMOUNT",
    "MAX_CLIENT_KEY_LENGTH",
    "MAX_QUANTITY",
    "GrantResult",
    "InsufficientFunds",
    "InventoryFull",
    "InventoryResult",
    "MailResult",
    "PurchaseResult",
    "ReconciliationReport",
    "catalog_sync",
    "economy_grant",
    "economy_reconcile",
    "inventory_consume",
    "inventory_destroy",
    "inventory_equip",
    "inventory_move",
    "inventory_split",
    "inventory_stack",
    "inventory_unequip",
    "item_grant",
    "mail_claim",
    "mail_return_expired",
    "mail_send",
    "shop_purchase",
    "shop_refund",
    "trade_accept",
    "trade_cancel",
    "trade_cancel_for_character",
    "trade_confirm",
    "trade_expire_stale",
    "trade_lock",
    "trade_open",
    "trade_set_offer",
    "wallet_grant",
    "wallet_revoke",
]
