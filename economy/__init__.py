"""Economy: item catalog, inventories and equipment, wallets on a double-entry ledger, the shop,
player trades, the mailbox, reconciliation.

Entry points for other areas (all keyword-only, in ``economy.services`` / ``economy.selectors``;
each use case is one transaction with row locks and a ledger entry, see docs/decisions/0030-0038):

Loot (combat) and quest rewards::

    economy_grant(character=c, source="loot", actor=None, reason="wolf #81",
                  idempotency_key=f"kill:{encounter_id}:{c.pk}",   # names the event: retry-safe
                  currency="gold", amount=12, items=[("wolf_pelt", 2)])   # all or nothing
    # raises InventoryFull (409 inventory_full) when the items do not fit

GM console / live-ops (audited: actor + reason land in the ledger)::

    economy_grant(character=c, source="gm", actor=gm_user, reason=..., idempotency_key=...)
    wallet_revoke(character=c, currency="gold", amount=5, actor=gm_user, reason=...,
                  idempotency_key=...)
    shop_refund(purchase_id=..., actor=gm_user, reason=..., idempotency_key=..., revoke_items=True)
    # per-character history: reverse("admin:economy_character_history", args=[c.pk])

World server::

    equipment_stat_bonus(character_id=c.pk) -> {"attack_power": 7, ...}    # on join and on
    # {"type": "character.changed", "what": "equipment" | "trade"} sent to group f"character-{id}"
    trade_cancel_for_character(c.pk, reason="left")                       # on disconnect
    inventory_consume(character=c, item_id=..., quantity=1, idempotency_key=...)  # potions

Shop page (live-ops)::

    offers_on_sale()
    shop_purchase(user=u, character=c, offer_id=..., quantity=1, idempotency_key=...)

Celery beat (``economy.tasks``): ``reconcile_economy`` (hourly), ``return_expired_mail``
(hourly), ``expire_stale_trades`` (every minute).
"""
