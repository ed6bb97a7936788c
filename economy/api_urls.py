"""REST API routes of the economy app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path

from economy import api

character = "economy/characters/<int:character_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("economy/items/", api.ItemCatalogApi.as_view(), name="economy-items"),
    path("economy/offers/", api.OfferListApi.as_view(), name="economy-offers"),
    path("economy/purchases/", api.PurchaseCreateApi.as_view(), name="economy-purchase-create"),
    path("economy/purchases/mine/", api.PurchaseListApi.as_view(), name="economy-purchase-list"),
    path(f"{character}wallet/", api.WalletApi.as_view(), name="economy-wallet"),
    path(f"{character}ledger/", api.LedgerApi.as_view(), name="economy-ledger"),
    path(f"{character}inventory/", api.InventoryApi.as_view(), name="economy-inventory"),
    path(
        f"{character}inventory/move/",
        api.InventoryMoveApi.as_view(),
        name="economy-inventory-move",
    ),
    path(
        f"{character}inventory/split/",
        api.InventorySplitApi.as_view(),
        name="economy-inventory-split",
    ),
    path(
        f"{character}inventory/stack/",
        api.InventoryStackApi.as_view(),
        name="economy-inventory-stack",
    ),
    path(
        f"{character}inventory/equip/",
        api.InventoryEquipApi.as_view(),
        name="economy-inventory-equip",
    ),
    path(
        f"{character}inventory/unequip/",
        api.InventoryUnequipApi.as_view(),
        name="economy-inventory-unequip",
    ),
    path(
        f"{character}inventory/destroy/",
        api.InventoryDestroyApi.as_view(),
        name="economy-inventory-destroy",
    ),
    path(f"{character}mail/", api.MailInboxApi.as_view(), name="economy-mail-inbox"),
    path(f"{character}trades/", api.TradeListApi.as_view(), name="economy-trades-active"),
    path("economy/mail/", api.MailSendApi.as_view(), name="economy-mail-send"),
    path(
        "economy/mail/<int:mail_id>/claim/", api.MailClaimApi.as_view(), name="economy-mail-claim"
    ),
    path("economy/trades/", api.TradeOpenApi.as_view(), name="economy-trade-open"),
    path("economy/trades/<int:trade_id>/", api.TradeDetailApi.as_view(), name="economy-trade"),
    path(
        "economy/trades/<int:trade_id>/accept/",
        api.TradeAcceptApi.as_view(),
        name="economy-trade-accept",
    ),
    path(
        "economy/trades/<int:trade_id>/offer/",
        api.TradeOfferApi.as_view(),
        name="economy-trade-offer",
    ),
    path(
        "economy/trades/<int:trade_id>/lock/",
        api.TradeLockApi.as_view(),
        name="economy-trade-lock",
    ),
    path(
        "economy/trades/<int:trade_id>/confirm/",
        api.TradeConfirmApi.as_view(),
        name="economy-trade-confirm",
    ),
    path(
        "economy/trades/<int:trade_id>/cancel/",
        api.TradeCancelApi.as_view(),
        name="economy-trade-cancel",
    ),
]
