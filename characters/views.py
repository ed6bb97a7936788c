"""Portal pages: characters per realm, create, delete with confirmation, restore; the realm
list. Thin adapters over the services; another player's character id answers 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from characters.content import get_character_content
from characters.forms import ERROR_FIELDS, CharacterCreateForm
from characters.selectors import (
    character_get_owned,
    character_list_for_account,
    character_restore_deadline,
)
from characters.services import character_create, character_delete, character_restore
from mmo_platform.errors import DomainError, NotFound, ValidationFailed
from worlds.selectors import realm_summaries


def _portal_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@login_required
def character_list(request: HttpRequest) -> HttpResponse:
    user = _portal_user(request)
    content = get_character_content()
    realms: dict[int, dict[str, object]] = {}
    for character in character_list_for_account(user=user):
        group = realms.setdefault(
            character.realm_id, {"realm": character.realm, "characters": [], "count": 0}
        )
        class_ = content.classes.get(character.class_id)
        race = content.races.get(character.race_id)
        group["characters"].append(  # type: ignore[attr-defined]
            {
                "character": character,
                "class_name": class_.name if class_ else character.class_id,
                "race_name": race.name if race else character.race_id,
                "restorable_until": character_restore_deadline(character),
            }
        )
        group["count"] = int(group["count"]) + 1  # type: ignore[call-overload]
    context = {"realms": list(realms.values()), "limit": settings.CHARACTERS_PER_REALM}
    return render(request, "characters/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def character_new(request: HttpRequest) -> HttpResponse:
    user = _portal_user(request)
    initial = {"realm": request.GET.get("realm", "")}
    form = CharacterCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            character = character_create(
                user=user,
                realm_slug=form.cleaned_data["realm"],
                name=form.cleaned_data["name"],
                class_id=form.cleaned_data["class_id"],
                race_id=form.cleaned_data["race_id"],
                appearance=form.appearance(),
            )
        except ValidationFailed as refusal:
            form.add_error(
                ERROR_FIELDS.get(str(refusal.details.get("field")), None), refusal.message
            )
        except DomainError as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, f"{character.name} is ready on {character.realm.name}.")
            return redirect("characters:list")
    context = {"form": form, "content": get_character_content()}
    return render(request, "characters/create.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def character_delete_confirm(request: HttpRequest, character_id: int) -> HttpResponse:
    user = _portal_user(request)
    try:
        character = character_get_owned(user=user, character_id=character_id)
    except NotFound:
        raise Http404("No such character.") from None
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip().casefold() != character.name_key:
            messages.error(request, "Type the character's name to confirm.")
        else:
            try:
                character_delete(user=user, character_id=character.pk)
            except DomainError as refusal:
                messages.error(request, refusal.message)
            else:
                days = settings.CHARACTER_RESTORE_DAYS
                messages.success(
                    request, f"{character.name} was deleted. You can restore it for {days} days."
                )
                return redirect("characters:list")
    context = {"character": character, "restore_days": settings.CHARACTER_RESTORE_DAYS}
    return render(request, "characters/delete.html", context)


@login_required
@require_POST
def character_restore_view(request: HttpRequest, character_id: int) -> HttpResponse:
    user = _portal_user(request)
    try:
        character = character_restore(user=user, character_id=character_id)
    except NotFound:
        raise Http404("No such character.") from None
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"{character.name} is back.")
    return redirect("characters:list")


@login_required
def realm_list(request: HttpRequest) -> HttpResponse:
    user = _portal_user(request)
    counts: dict[int, int] = {}
    for character in character_list_for_account(user=user):
        counts[character.realm_id] = counts.get(character.realm_id, 0) + 1
    rows = [{"summary": s, "your_characters": counts.get(s.realm.pk, 0)} for s in realm_summaries()]
    return render(
        request, "worlds/realm_list.html", {"rows": rows, "limit": settings.CHARACTERS_PER_REALM}
    )
