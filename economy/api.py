"""Economy REST API (mounted under /api/v1/economy/). One APIView per operation: parse → check
access (``character_get_owned``: another player's character is a 404) → call one service →
render. POSTs that move value need an ``Idempotency-Key`` header (ADR 0032)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from characters.models import Character
from characters.selectors import character_get_owned
from economy import selectors, services
from economy.catalog import get_catalog
from economy.models import ItemInstance, LedgerTransaction, Mail, Purchase, ShopOffer, Trade
from economy.services import MAX_AMOUNT, MAX_CLIENT_KEY_LENGTH, MAX_QUANTITY
from mmo_platform.errors import ValidationFailed

# A key is at least one non-blank character and at most MAX_CLIENT_KEY_LENGTH long.
_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_CLIENT_KEY_LENGTH,
    "pattern": r"\S",
}
IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Client-chosen unique key (max 100 chars). A retry with the same key returns "
    "the first result and never moves value twice.",
)
OPTIONAL_IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Optional for moves inside one bag (they move no value); makes retries safe.",
)


def idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ValidationFailed(
            "This request moves value: send an Idempotency-Key header.",
            code="idempotency_key_required",
        )
    return key


def optional_key(request: Request) -> str | None:
    """Moves inside one bag move no value; a client may still send a key to make retries safe."""
    return request.headers.get("Idempotency-Key", "").strip() or None


def owned(request: Request, character_id: Any) -> Character:
    user = request.user
    assert isinstance(user, User)
    return character_get_owned(user=user, character_id=character_id)


def parsed(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- output serializers ----------------------------------------------------------------------


class ItemDefinitionOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    rarity = serializers.CharField()
    stack_size = serializers.IntegerField()
    equip_slot = serializers.CharField(allow_null=True)
    stats = serializers.DictField(child=serializers.IntegerField())
    vendor_price = serializers.IntegerField()
    tradable = serializers.BooleanField()
    binds = serializers.CharField()
    level_required = serializers.IntegerField()
    description = serializers.CharField()


class OfferOut(serializers.ModelSerializer):
    item_id = serializers.CharField()
    stock_left = serializers.IntegerField(allow_null=True)

    class Meta:
        model = ShopOffer
        fields = [
            "id",
            "title",
            "item_id",
            "quantity",
            "currency",
            "price",
            "stock_limit",
            "stock_left",
            "per_account_limit",
            "starts_at",
            "ends_at",
        ]


class ItemOut(serializers.ModelSerializer):
    item_id = serializers.CharField(source="definition_id")
    name = serializers.SerializerMethodField()

    class Meta:
        model = ItemInstance
        fields = ["id", "item_id", "name", "quantity", "slot", "equip_slot", "bound"]

    def get_name(self, item: ItemInstance) -> str:
        definition = get_catalog().items.get(item.definition_id)
        return definition.name if definition else item.definition_id


class InventoryOut(serializers.Serializer):
    capacity = serializers.IntegerField()
    items = ItemOut(many=True)
    equipped = ItemOut(many=True)
    stat_bonus = serializers.DictField(child=serializers.IntegerField())


def inventory_payload(character: Character) -> dict[str, Any]:
    view = selectors.inventory_get(character_id=character.pk)
    return InventoryOut(
        {
            "capacity": view.capacity,
            "items": view.items,
            "equipped": view.equipped,
            "stat_bonus": selectors.equipment_stat_bonus(character_id=character.pk),
        }
    ).data


class WalletOut(serializers.Serializer):
    character_id = serializers.IntegerField()
    balances = serializers.DictField(child=serializers.IntegerField())


class PostingOut(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.IntegerField()
    balance_after = serializers.IntegerField()


class MovementOut(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    item_id = serializers.CharField(source="definition_id")
    delta = serializers.IntegerField()
    quantity = serializers.IntegerField()
    from_place = serializers.CharField()
    from_character = serializers.IntegerField(source="from_character_id", allow_null=True)
    to_place = serializers.CharField()
    to_character = serializers.IntegerField(source="to_character_id", allow_null=True)


class LedgerEntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    postings = PostingOut(many=True)
    movements = MovementOut(many=True)


class PurchaseOut(serializers.Serializer):
    purchase_id = serializers.IntegerField()
    offer_id = serializers.CharField()
    character_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    items_granted = serializers.IntegerField()
    currency = serializers.CharField()
    total_price = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    state = serializers.CharField()
    item_ids = serializers.ListField(child=serializers.IntegerField())
    replayed = serializers.BooleanField()


class PurchaseListOut(serializers.ModelSerializer):
    class Meta:
        model = Purchase
        fields = [
            "id",
            "offer",
            "character",
            "quantity",
            "items_granted",
            "currency",
            "total_price",
            "state",
            "created_at",
            "refunded_at",
        ]


class TradeLineOut(serializers.Serializer):
    side = serializers.CharField()
    item = serializers.IntegerField(source="item_id", allow_null=True)
    item_id = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    currency = serializers.CharField()
    amount = serializers.IntegerField()

    def get_item_id(self, line: Any) -> str | None:
        return line.item.definition_id if line.item_id else None


class TradeOut(serializers.ModelSerializer):
    character_a = serializers.CharField(source="character_a.name")
    character_b = serializers.CharField(source="character_b.name")
    character_a_id = serializers.IntegerField()
    character_b_id = serializers.IntegerField()
    lines = TradeLineOut(many=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "state",
            "character_a",
            "character_a_id",
            "character_b",
            "character_b_id",
            "version_a",
            "version_b",
            "confirmed_a",
            "confirmed_b",
            "cancel_reason",
            "lines",
            "created_at",
            "completed_at",
        ]


def trade_payload(character: Character, trade_id: int) -> dict[str, Any]:
    return TradeOut(selectors.trade_get_for_character(character=character, trade_id=trade_id)).data


class MailOut(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.name")
    items = ItemOut(many=True)

    class Meta:
        model = Mail
        fields = [
            "id",
            "sender",
            "subject",
            "body",
            "currency",
            "amount",
            "items",
            "state",
            "created_at",
            "expires_at",
        ]


class MailResultOut(serializers.Serializer):
    mail_id = serializers.IntegerField()
    transaction_id = serializers.IntegerField()
    state = serializers.CharField()
    replayed = serializers.BooleanField()


# --- input serializers -----------------------------------------------------------------------


class CharacterIn(serializers.Serializer):
    character_id = serializers.IntegerField()


# Far past any real history, and inside every database's LIMIT/OFFSET range.
MAX_OFFSET = 1_000_000_000


class PageIn(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class MoveIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    slot = serializers.IntegerField(min_value=0)


class SplitIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    slot = serializers.IntegerField(min_value=0, required=False, allow_null=True)


class StackIn(serializers.Serializer):
    source_item_id = serializers.IntegerField()
    target_item_id = serializers.IntegerField()
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, required=False, allow_null=True
    )


class EquipIn(serializers.Serializer):
    item_id = serializers.IntegerField()


class UnequipIn(serializers.Serializer):
    equip_slot = serializers.CharField(max_length=24)
    slot = serializers.IntegerField(min_value=0, required=False, allow_null=True)


class DestroyIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, required=False, allow_null=True
    )
    confirm = serializers.BooleanField(default=False)


class PurchaseIn(serializers.Serializer):
    character_id = serializers.IntegerField()
    offer_id = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=100, default=1)


class TradeOpenIn(serializers.Serializer):
    character_id = serializers.IntegerField()
    partner_name = serializers.CharField(max_length=32)


class ItemQuantityIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class TradeOfferIn(serializers.Serializer):
    character_id = serializers.IntegerField()
    items = ItemQuantityIn(many=True, required=False, default=list)
    currency = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT),
        required=False,
        default=dict,
    )


class MailSendIn(serializers.Serializer):
    character_id = serializers.IntegerField()
    recipient_name = serializers.CharField(max_length=32)
    items = ItemQuantityIn(many=True, required=False, default=list)
    currency = serializers.CharField(required=False, allow_null=True, default=None)
    amount = serializers.IntegerField(min_value=0, required=False, default=0)
    subject = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    body = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- catalog and shop ------------------------------------------------------------------------


class ItemCatalogApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="economy_items_list", responses=ItemDefinitionOut(many=True))
    def get(self, request: Request) -> Response:
        items = sorted(get_catalog().items.values(), key=lambda item: (item.type, item.id))
        return Response(ItemDefinitionOut(items, many=True).data)


class OfferListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="economy_offers_list", responses=OfferOut(many=True))
    def get(self, request: Request) -> Response:
        return Response(OfferOut(selectors.offers_on_sale(), many=True).data)


class PurchaseCreateApi(APIView):
    @extend_schema(
        operation_id="economy_purchase_create",
        request=PurchaseIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PurchaseOut, 200: PurchaseOut},
        description="Buy an offer. A retry with the same Idempotency-Key returns the first "
        "purchase (200, replayed=true) and never charges twice.",
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key(request)
        data = parsed(PurchaseIn, request)
        character = owned(request, data["character_id"])
        user = request.user
        assert isinstance(user, User)
        result = services.shop_purchase(
            user=user,
            character=character,
            offer_id=data["offer_id"],
            quantity=data["quantity"],
            idempotency_key=key,
        )
        code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        return Response(PurchaseOut(result).data, status=code)


class PurchaseListApi(APIView):
    @extend_schema(operation_id="economy_purchases_list", responses=PurchaseListOut(many=True))
    def get(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        purchases = selectors.purchases_for_account(user=user)[:100]
        return Response(PurchaseListOut(purchases, many=True).data)


# --- wallet, ledger, inventory -----------------------------------------------------------


class WalletApi(APIView):
    @extend_schema(operation_id="economy_wallet_get", responses=WalletOut)
    def get(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        balances = selectors.wallet_balances(character_id=character.pk)
        return Response(WalletOut({"character_id": character.pk, "balances": balances}).data)


class LedgerApi(APIView):
    @extend_schema(
        operation_id="economy_ledger_list",
        responses=LedgerEntryOut(many=True),
        parameters=[PageIn],
    )
    def get(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        paging = PageIn(data=request.query_params)
        paging.is_valid(raise_exception=True)
        limit, offset = paging.validated_data["limit"], paging.validated_data["offset"]
        history = selectors.ledger_for_character(character_id=character.pk)
        page = list(history[offset : offset + limit])
        return Response(LedgerEntryOut(_ledger_rows(page, character.pk), many=True).data)


def _ledger_rows(page: list[LedgerTransaction], character_id: int) -> list[dict[str, Any]]:
    ids = [tx.pk for tx in page]
    postings = selectors.postings_for_character(character_id=character_id).filter(
        transaction_id__in=ids
    )
    movements = selectors.movements_for_character(character_id=character_id).filter(
        transaction_id__in=ids
    )
    rows: dict[int, dict[str, Any]] = {
        tx.pk: {
            "id": tx.pk,
            "kind": tx.kind,
            "reason": tx.reason,
            "created_at": tx.created_at,
            "postings": [],
            "movements": [],
        }
        for tx in page
    }
    for posting in postings:
        rows[posting.transaction_id]["postings"].append(posting)
    for movement in movements:
        rows[movement.transaction_id]["movements"].append(movement)
    return [rows[tx.pk] for tx in page]


class InventoryApi(APIView):
    @extend_schema(operation_id="economy_inventory_get", responses=InventoryOut)
    def get(self, request: Request, character_id: int) -> Response:
        return Response(inventory_payload(owned(request, character_id)))


class InventoryMoveApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_move",
        request=MoveIn,
        responses=InventoryOut,
        parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        data = parsed(MoveIn, request)
        services.inventory_move(
            character=character,
            item_id=data["item_id"],
            slot=data["slot"],
            idempotency_key=optional_key(request),
        )
        return Response(inventory_payload(character))


class InventorySplitApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_split",
        request=SplitIn,
        responses=InventoryOut,
        parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        data = parsed(SplitIn, request)
        services.inventory_split(
            character=character,
            item_id=data["item_id"],
            quantity=data["quantity"],
            slot=data.get("slot"),
            idempotency_key=optional_key(request),
        )
        return Response(inventory_payload(character))


class InventoryStackApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_stack",
        request=StackIn,
        responses=InventoryOut,
        parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        data = parsed(StackIn, request)
        services.inventory_stack(
            character=character,
            source_item_id=data["source_item_id"],
            target_item_id=data["target_item_id"],
            quantity=data.get("quantity"),
            idempotency_key=optional_key(request),
        )
        return Response(inventory_payload(character))


class InventoryEquipApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_equip",
        request=EquipIn,
        responses=InventoryOut,
        parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        data = parsed(EquipIn, request)
        services.inventory_equip(
            character=character, item_id=data["item_id"], idempotency_key=optional_key(request)
        )
        return Response(inventory_payload(character))


class InventoryUnequipApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_unequip",
        request=UnequipIn,
        responses=InventoryOut,
        parameters=[OPTIONAL_IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        data = parsed(UnequipIn, request)
        services.inventory_unequip(
            character=character,
            equip_slot=data["equip_slot"],
            slot=data.get("slot"),
            idempotency_key=optional_key(request),
        )
        return Response(inventory_payload(character))


class InventoryDestroyApi(APIView):
    @extend_schema(
        operation_id="economy_inventory_destroy",
        request=DestroyIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses=InventoryOut,
        description='Irreversible: the body must contain "confirm": true.',
    )
    def post(self, request: Request, character_id: int) -> Response:
        key = idempotency_key(request)
        character = owned(request, character_id)
        data = parsed(DestroyIn, request)
        services.inventory_destroy(
            character=character,
            item_id=data["item_id"],
            quantity=data.get("quantity"),
            confirm=data["confirm"],
            idempotency_key=key,
        )
        return Response(inventory_payload(character))


# --- trades ----------------------------------------------------------------------------------


class TradeOpenApi(APIView):
    @extend_schema(
        operation_id="economy_trade_open", request=TradeOpenIn, responses={201: TradeOut}
    )
    def post(self, request: Request) -> Response:
        data = parsed(TradeOpenIn, request)
        character = owned(request, data["character_id"])
        trade = services.trade_open(initiator=character, partner_name=data["partner_name"])
        return Response(trade_payload(character, trade.pk), status=status.HTTP_201_CREATED)


class TradeListApi(APIView):
    @extend_schema(operation_id="economy_trades_active", responses=TradeOut(many=True))
    def get(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        return Response(TradeOut(selectors.trades_active_for(character=character), many=True).data)


class TradeDetailApi(APIView):
    @extend_schema(
        operation_id="economy_trade_get",
        parameters=[OpenApiParameter("character_id", int, required=True)],
        responses=TradeOut,
    )
    def get(self, request: Request, trade_id: int) -> Response:
        query = CharacterIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        character = owned(request, query.validated_data["character_id"])
        return Response(trade_payload(character, trade_id))


class TradeAcceptApi(APIView):
    @extend_schema(operation_id="economy_trade_accept", request=CharacterIn, responses=TradeOut)
    def post(self, request: Request, trade_id: int) -> Response:
        character = owned(request, parsed(CharacterIn, request)["character_id"])
        services.trade_accept(character=character, trade_id=trade_id)
        return Response(trade_payload(character, trade_id))


class TradeOfferApi(APIView):
    @extend_schema(operation_id="economy_trade_offer", request=TradeOfferIn, responses=TradeOut)
    def post(self, request: Request, trade_id: int) -> Response:
        data = parsed(TradeOfferIn, request)
        character = owned(request, data["character_id"])
        services.trade_set_offer(
            character=character,
            trade_id=trade_id,
            items=[(line["item_id"], line["quantity"]) for line in data["items"]],
            currency=data["currency"],
        )
        return Response(trade_payload(character, trade_id))


class TradeLockApi(APIView):
    @extend_schema(operation_id="economy_trade_lock", request=CharacterIn, responses=TradeOut)
    def post(self, request: Request, trade_id: int) -> Response:
        character = owned(request, parsed(CharacterIn, request)["character_id"])
        services.trade_lock(character=character, trade_id=trade_id)
        return Response(trade_payload(character, trade_id))


class TradeConfirmApi(APIView):
    @extend_schema(
        operation_id="economy_trade_confirm",
        request=CharacterIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses=TradeOut,
        description="The second confirmation swaps everything in one transaction, or cancels "
        "the trade (409 trade_cancelled) if anything changed since the lock. The trade itself "
        "is the unit of idempotency: it completes at most once.",
    )
    def post(self, request: Request, trade_id: int) -> Response:
        idempotency_key(request)
        character = owned(request, parsed(CharacterIn, request)["character_id"])
        services.trade_confirm(character=character, trade_id=trade_id)
        return Response(trade_payload(character, trade_id))


class TradeCancelApi(APIView):
    @extend_schema(operation_id="economy_trade_cancel", request=CharacterIn, responses=TradeOut)
    def post(self, request: Request, trade_id: int) -> Response:
        character = owned(request, parsed(CharacterIn, request)["character_id"])
        services.trade_cancel(character=character, trade_id=trade_id)
        return Response(trade_payload(character, trade_id))


# --- mail ------------------------------------------------------------------------------------


class MailInboxApi(APIView):
    @extend_schema(operation_id="economy_mail_inbox", responses=MailOut(many=True))
    def get(self, request: Request, character_id: int) -> Response:
        character = owned(request, character_id)
        return Response(MailOut(selectors.mail_inbox(character=character)[:100], many=True).data)


class MailSendApi(APIView):
    @extend_schema(
        operation_id="economy_mail_send",
        request=MailSendIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: MailResultOut, 200: MailResultOut},
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key(request)
        data = parsed(MailSendIn, request)
        character = owned(request, data["character_id"])
        result = services.mail_send(
            sender=character,
            recipient_name=data["recipient_name"],
            idempotency_key=key,
            items=[(line["item_id"], line["quantity"]) for line in data["items"]],
            currency=data["currency"] or None,
            amount=data["amount"],
            subject=data["subject"],
            body=data["body"],
        )
        code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        return Response(MailResultOut(result).data, status=code)


class MailClaimApi(APIView):
    @extend_schema(
        operation_id="economy_mail_claim",
        request=CharacterIn,
        parameters=[IDEMPOTENCY_HEADER],
        responses=MailResultOut,
        description="Idempotent by nature: a mail is claimed once; repeating returns that claim.",
    )
    def post(self, request: Request, mail_id: int) -> Response:
        idempotency_key(request)
        character = owned(request, parsed(CharacterIn, request)["character_id"])
        result = services.mail_claim(character=character, mail_id=mail_id)
        return Response(MailResultOut(result).data)
