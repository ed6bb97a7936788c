"""Portal pages of the economy: the shop (/shop/) and a character's inventory page.

Adapters only: parse the form → check ownership → call the service → redirect with a message.
The buy form carries an idempotency key generated when the page was rendered, so submitting the
same form twice (double click, browser retry) buys once.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from characters.models import Character
from characters.selectors import character_get_owned, character_list_for_account
from economy import selectors
from economy.catalog import Catalog, ItemDef, get_catalog
from economy.models import ItemInstance
from economy.services import shop_purchase
from mmo_platform.errors import DomainError, NotFound


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _selected_character(request: HttpRequest, characters: list[Character]) -> Character | None:
    wanted = request.GET.get("character")
    for character in characters:
        if wanted and str(character.pk) == wanted:
            return character
    return characters[0] if characters else None


@login_required
@require_GET
def shop_page(request: HttpRequest) -> HttpResponse:
    characters = list(character_list_for_account(user=_user(request), include_deleted=False))
    character = _selected_character(request, characters)
    catalog = get_catalog()
    offers = [
        {"offer": offer, "item": catalog.items.get(offer.item_id), "key": uuid.uuid4().hex}
        for offer in selectors.offers_on_sale()
    ]
    balances = selectors.wallet_balances(character_id=character.pk) if character else {}
    return render(
        request,
        "economy/shop.html",
        {"characters": characters, "character": character, "offers": offers, "balances": balances},
    )


@login_required
@require_POST
def shop_buy(request: HttpRequest) -> HttpResponse:
    character_id = request.POST.get("character_id", "")
    target = reverse("economy:shop")
    try:
        character = character_get_owned(user=_user(request), character_id=int(character_id or 0))
        target = f"{target}?character={character.pk}"
        result = shop_purchase(
            user=_user(request),
            character=character,
            offer_id=request.POST.get("offer_id", ""),
            quantity=int(request.POST.get("quantity", "1") or 1),
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except (ValueError, TypeError):
        messages.error(request, "That purchase request was malformed.")
    except DomainError as error:
        messages.error(request, error.message)
    else:
        note = (
            " (this purchase was already made; you were not charged again)"
            if result.replayed
            else ""
        )
        messages.success(
            request,
            f"Bought {result.quantity} x {result.offer_id} for {result.total_price} "
            f"{result.currency}{note}.",
        )
    return HttpResponseRedirect(target)


@login_required
@require_GET
def inventory_page(request: HttpRequest, character_id: int) -> HttpResponse:
    try:
        character = character_get_owned(user=_user(request), character_id=character_id)
    except NotFound as error:
        raise Http404(error.message) from error
    view = selectors.inventory_get(character_id=character.pk)
    catalog = get_catalog()
    by_slot = {item.slot: item for item in view.items}
    grid = [
        {"slot": slot, "item": by_slot.get(slot), "def": _definition(catalog, by_slot.get(slot))}
        for slot in range(view.capacity)
    ]
    equipped = [{"item": item, "def": _definition(catalog, item)} for item in view.equipped]
    ledger = list(selectors.ledger_for_character(character_id=character.pk)[:20])
    postings = selectors.postings_for_character(character_id=character.pk).filter(
        transaction_id__in=[tx.pk for tx in ledger]
    )
    movements = selectors.movements_for_character(character_id=character.pk).filter(
        transaction_id__in=[tx.pk for tx in ledger]
    )
    rows: dict[int, dict[str, Any]] = {
        tx.pk: {"tx": tx, "postings": [], "movements": []} for tx in ledger
    }
    for posting in postings:
        rows[posting.transaction_id]["postings"].append(posting)
    for movement in movements:
        rows[movement.transaction_id]["movements"].append(movement)
    return render(
        request,
        "economy/inventory.html",
        {
            "character": character,
            "grid": grid,
            "equipped": equipped,
            "stat_bonus": selectors.equipment_stat_bonus(character_id=character.pk),
            "balances": selectors.wallet_balances(character_id=character.pk),
            "ledger": [rows[tx.pk] for tx in ledger],
        },
    )


def _definition(catalog: Catalog, item: ItemInstance | None) -> ItemDef | None:
    return catalog.items.get(item.definition_id) if item is not None else None
