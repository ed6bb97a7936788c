"""The browser game client at ``/play`` (static/play/, protocol in docs/protocol.md).

``/play?character=<id>`` serves the page that enters the world with one of the signed-in
player's characters; the page itself asks for the world ticket (``POST
/api/v1/characters/<id>/join`` with the session cookie and CSRF header) and opens the WebSocket.
Without the parameter the page lists the player's characters to choose from. Another player's
character, or an id that does not exist, answers 404 (``character_get_owned``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.models import User
from characters.content import get_character_content
from characters.models import Character
from characters.selectors import character_get_owned, character_list_for_account
from mmo_platform.errors import NotFound


@login_required
@require_GET
def play_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    character_param = request.GET.get("character")
    if not character_param:
        return _render_picker(request, user)
    try:
        character = character_get_owned(user=user, character_id=int(character_param))
    except (ValueError, NotFound):
        raise Http404("No such character.") from None
    if character.is_deleted:
        messages.warning(request, f"{character.name} is deleted; restore it before playing.")
        return redirect("play")
    return render(
        request,
        "play/play.html",
        {"character": character, "client_config": _client_config(character)},
    )


def _render_picker(request: HttpRequest, user: User) -> HttpResponse:
    characters = character_list_for_account(user=user, include_deleted=False)
    content = get_character_content()
    rows = [
        {
            "character": character,
            "class_name": _class_name(character.class_id, content.classes),
        }
        for character in characters
    ]
    return render(request, "play/picker.html", {"rows": rows})


def _class_name(class_id: str, classes: dict[str, Any]) -> str:
    class_ = classes.get(class_id)
    return str(class_.name) if class_ is not None else class_id


def _client_config(character: Character) -> dict[str, Any]:
    """What the client needs before the welcome frame: where to join, how to draw classes."""
    content = get_character_content()
    return {
        "character": {"id": character.pk, "name": character.name, "realm": character.realm.name},
        "join_url": f"/api/v1/characters/{character.pk}/join",
        "palette": content.appearance.colors,
        "classes": {class_id: class_.name for class_id, class_ in content.classes.items()},
    }
