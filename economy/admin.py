"""GM console for the economy. The ledger is append-only here: every model is read-only, and
the only writes — granting, refunding — are forms that call the services with the GM as
``actor`` and a mandatory reason, so they land in the ledger like any other change (ADR 0036).

Per-character history ("what moved, from where to where, why"):
``reverse("admin:economy_character_history", args=[character_id])``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from accounts.models import User
from characters.models import Character
from economy import selectors
from economy.catalog import get_catalog
from economy.models import (
    Currency,
    Inventory,
    ItemContainer,
    ItemDefinition,
    ItemInstance,
    ItemMovement,
    LedgerPosting,
    LedgerTransaction,
    Mail,
    Purchase,
    PurchaseState,
    ReconciliationRun,
    ShopOffer,
    Trade,
    TradeLine,
    Wallet,
)
from economy.services import economy_grant, shop_refund
from mmo_platform.admin_base import ReadOnlyAdmin, ReadOnlyInline
from mmo_platform.errors import DomainError

POSTING_FIELDS = ("wallet", "currency", "amount", "balance_after")
MOVEMENT_FIELDS = (
    "item",
    "definition",
    "delta",
    "quantity",
    "from_place",
    "from_character",
    "from_detail",
    "to_place",
    "to_character",
    "to_detail",
)
TRADE_LINE_FIELDS = ("side", "item", "quantity", "currency", "amount")
GM_PERMISSION = "economy.add_ledgertransaction"


def history_link(character_id: int | None) -> str:
    if character_id is None:
        return "—"
    url = reverse("admin:economy_character_history", args=[character_id])
    return format_html('<a href="{}">economy history</a>', url)


@admin.register(ItemDefinition)
class ItemDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "type", "rarity", "stack_size", "equip_slot", "binds", "tradable"]
    list_filter = ["type", "rarity", "binds", "tradable", "retired"]
    search_fields = ["id", "name"]


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["id", "label", "kind", "currency", "balance", "history"]
    list_filter = ["kind", "currency"]
    search_fields = ["character__name", "system_code"]
    list_select_related = ["character"]

    @admin.display(description="History")
    def history(self, wallet: Wallet) -> str:
        return history_link(wallet.character_id)


class PostingInline(ReadOnlyInline):
    model = LedgerPosting
    fields = POSTING_FIELDS
    readonly_fields = POSTING_FIELDS


class MovementInline(ReadOnlyInline):
    model = ItemMovement
    fk_name = "transaction"
    fields = MOVEMENT_FIELDS
    readonly_fields = MOVEMENT_FIELDS


class CharacterFilter(admin.SimpleListFilter):
    """``?character=<id>``: transactions that moved this character's currency or items."""

    title = "character"
    parameter_name = "character"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        return [(value, f"Character #{value}")] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        return queryset.filter(pk__in=selectors.ledger_for_character(character_id=int(value)))


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "actor_label", "reason", "idempotency_key"]
    list_filter = [CharacterFilter, "kind", "created_at"]
    search_fields = ["idempotency_key", "reason", "actor_label"]
    date_hierarchy = "created_at"
    inlines = [PostingInline, MovementInline]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "character/<int:character_id>/",
                self.admin_site.admin_view(self.character_history_view),
                name="economy_character_history",
            ),
            path(
                "grant/",
                self.admin_site.admin_view(self.grant_view),
                name="economy_gm_grant",
            ),
        ]
        return own + super().get_urls()

    def character_history_view(self, request: HttpRequest, character_id: int) -> HttpResponse:
        character = get_object_or_404(Character.objects.select_related("realm"), pk=character_id)
        inventory = selectors.inventory_get(character_id=character.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Economy history of {character.name}",
            "character": character,
            "balances": selectors.wallet_balances(character_id=character.pk),
            "inventory": inventory,
            "catalog": get_catalog().items,
            "postings": selectors.postings_for_character(character_id=character.pk)[:200],
            "movements": selectors.movements_for_character(character_id=character.pk)[:200],
            "purchases": Purchase.objects.filter(character=character).select_related("offer")[:50],
            "grant_url": reverse("admin:economy_gm_grant") + f"?character={character.pk}",
            "ledger_url": reverse("admin:economy_ledgertransaction_changelist")
            + f"?character={character.pk}",
        }
        return TemplateResponse(request, "economy/admin/character_history.html", context)

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(GM_PERMISSION):
            raise DjangoPermissionDenied
        form = GrantForm(request.POST or None, initial={"character": request.GET.get("character")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            actor = request.user
            assert isinstance(actor, User)
            try:
                result = economy_grant(
                    character=data["character"],
                    source="gm",
                    actor=actor,
                    reason=data["reason"],
                    idempotency_key=data["idempotency_key"],
                    currency=data["currency"] or None,
                    amount=data["amount"] or 0,
                    items=[(data["item_id"], data["quantity"])] if data["item_id"] else [],
                )
            except DomainError as error:
                messages.error(request, f"Refused: {error.message}")
            else:
                messages.success(
                    request,
                    f"Granted (ledger transaction #{result.transaction_id}"
                    f"{', already done before' if result.replayed else ''}).",
                )
                return HttpResponseRedirect(
                    reverse("admin:economy_character_history", args=[data["character"].pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant currency or items (GM)",
            "form": form,
        }
        return TemplateResponse(request, "economy/admin/form.html", context)


class GrantForm(forms.Form):
    character = forms.ModelChoiceField(
        queryset=Character.objects.filter(deleted_at__isnull=True),
        widget=forms.NumberInput,
        help_text="Character id.",
    )
    currency = forms.ChoiceField(choices=[("", "—"), *Currency.choices], required=False)
    amount = forms.IntegerField(min_value=1, required=False)
    item_id = forms.ChoiceField(required=False)
    quantity = forms.IntegerField(min_value=1, initial=1)
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)
    # Generated when the form is rendered: submitting it twice grants once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        items = sorted(get_catalog().items.values(), key=lambda item: item.name)
        item_field = self.fields["item_id"]
        assert isinstance(item_field, forms.ChoiceField)
        item_field.choices = [("", "—")] + [(i.id, f"{i.name} ({i.id})") for i in items]
        if not self.is_bound:
            self.initial["idempotency_key"] = f"admin-{uuid.uuid4().hex}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("currency")) != bool(data.get("amount")):
            raise forms.ValidationError("Give both a currency and an amount, or neither.")
        if not data.get("currency") and not data.get("item_id"):
            raise forms.ValidationError("Grant currency, an item, or both.")
        return data


class RefundForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)
    revoke_items = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Take the purchased items back (refused if the character no longer has them).",
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput)


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "account",
        "character",
        "offer",
        "quantity",
        "total_price",
        "currency",
        "state",
        "refund",
    ]
    list_filter = ["state", "currency", "offer"]
    search_fields = ["account__username", "character__name", "offer__id"]
    list_select_related = ["account", "character", "offer"]

    @admin.display(description="Refund")
    def refund(self, purchase: Purchase) -> str:
        if purchase.state != PurchaseState.COMPLETED:
            return "—"
        url = reverse("admin:economy_purchase_refund", args=[purchase.pk])
        return format_html('<a href="{}">refund…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:purchase_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="economy_purchase_refund",
            )
        ]
        return own + super().get_urls()

    def refund_view(self, request: HttpRequest, purchase_id: int) -> HttpResponse:
        if not request.user.has_perm(GM_PERMISSION):
            raise DjangoPermissionDenied
        purchase = get_object_or_404(Purchase.objects.select_related("character"), pk=purchase_id)
        form = RefundForm(
            request.POST or None, initial={"idempotency_key": f"admin-{uuid.uuid4().hex}"}
        )
        if request.method == "POST" and form.is_valid():
            actor = request.user
            assert isinstance(actor, User)
            try:
                shop_refund(
                    purchase_id=purchase.pk,
                    actor=actor,
                    reason=form.cleaned_data["reason"],
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    revoke_items=form.cleaned_data["revoke_items"],
                )
            except DomainError as error:
                messages.error(request, f"Refused: {error.message}")
            else:
                messages.success(request, f"Purchase #{purchase.pk} refunded.")
                return HttpResponseRedirect(
                    reverse("admin:economy_character_history", args=[purchase.character_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund purchase #{purchase.pk} ({purchase.offer_id}, "
            f"{purchase.total_price} {purchase.currency})",
            "form": form,
        }
        return TemplateResponse(request, "economy/admin/form.html", context)


@admin.register(ShopOffer)
class ShopOfferAdmin(admin.ModelAdmin):
    """Offers come from content/shop.json; a GM may only switch one off (or on)."""

    list_display = ["id", "title", "currency", "price", "stock_limit", "stock_sold", "enabled"]
    list_filter = ["enabled", "retired", "currency"]
    list_editable = ["enabled"]
    readonly_fields = [
        "id",
        "item",
        "title",
        "quantity",
        "currency",
        "price",
        "stock_limit",
        "stock_sold",
        "per_account_limit",
        "starts_at",
        "ends_at",
        "retired",
        "synced_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ItemInstance)
class ItemInstanceAdmin(ReadOnlyAdmin):
    list_display = ["id", "definition", "quantity", "owner", "container", "slot", "equip_slot"]
    list_filter = ["container", "bound"]
    search_fields = ["owner__name", "definition__id", "definition__name"]
    list_select_related = ["owner", "definition"]


# The largest bag a GM may set: a product limit, far below the slot number the swaps park items
# in (economy.services._core.PARKING_SLOT), which no real slot may reach.
MAX_INVENTORY_CAPACITY = 1000


class InventoryAdminForm(forms.ModelForm):
    class Meta:
        model = Inventory
        fields = ["capacity"]  # the admin adds its other fields

    def clean_capacity(self) -> int:
        capacity: int = self.cleaned_data["capacity"]
        used = ItemInstance.objects.filter(
            owner_id=self.instance.character_id, container=ItemContainer.INVENTORY
        ).aggregate(last=Max("slot"))["last"]
        needed = 1 if used is None else used + 1
        if not needed <= capacity <= MAX_INVENTORY_CAPACITY:
            raise forms.ValidationError(
                f"From {needed} (the bag's last used slot is {needed - 1}) to "
                f"{MAX_INVENTORY_CAPACITY}."
                if used is not None
                else f"From 1 to {MAX_INVENTORY_CAPACITY}."
            )
        return capacity


@admin.register(Inventory)
class InventoryAdmin(admin.ModelAdmin):
    form = InventoryAdminForm
    list_display = ["character", "capacity", "history"]
    search_fields = ["character__name"]
    readonly_fields = ["character", "created_at"]

    @admin.display(description="History")
    def history(self, inventory: Inventory) -> str:
        return history_link(inventory.character_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TradeLineInline(ReadOnlyInline):
    model = TradeLine
    fields = TRADE_LINE_FIELDS
    readonly_fields = TRADE_LINE_FIELDS


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "character_a", "character_b", "state", "cancel_reason"]
    list_filter = ["state"]
    search_fields = ["character_a__name", "character_b__name"]
    inlines = [TradeLineInline]


@admin.register(Mail)
class MailAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "sender",
        "original_recipient",
        "state",
        "currency",
        "amount",
    ]
    list_filter = ["state"]
    search_fields = ["sender__name", "original_recipient__name", "subject"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "finished_at", "ok", "mismatch_count"]
    list_filter = ["ok"]
