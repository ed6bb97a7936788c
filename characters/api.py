"""Characters REST API (mounted at /api/v1/): options, list, create, detail, delete, restore and
entering the world. One view per operation; every lookup by id goes through
``character_get_owned`` so another player's character answers 404 exactly like a missing one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from characters.content import get_character_content
from characters.models import Character
from characters.selectors import (
    character_get_owned,
    character_list_for_account,
    character_restore_deadline,
)
from characters.services import (
    NAME_MAX_LENGTH,
    NAME_MIN_LENGTH,
    character_create,
    character_delete,
    character_restore,
)
from worlds.services import JoinOutcome, world_join


class DomainErrorOutput(serializers.Serializer):
    """The error body of every domain refusal (see mmo_platform/errors.py)."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. name_taken.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(required=False, help_text="Extra context, e.g. the field.")


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(DomainErrorOutput, description=description)


UNAUTHENTICATED = OpenApiResponse(description="Missing, expired or revoked credentials.")
NOT_FOUND = error_response("No such character for this account (also for other players' ids).")


def request_user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated (the default permission) ran first
    return user


# --- Serializers ------------------------------------------------------------------------------


class RealmRefOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class AppearanceSerializer(serializers.Serializer):
    body = serializers.IntegerField(help_text="Body shape, see /characters/options.")
    hair = serializers.IntegerField(help_text="Hair style, see /characters/options.")
    color = serializers.CharField(help_text="Palette key, see /characters/options.")


class CharacterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    realm = RealmRefOutput()
    class_id = serializers.CharField()
    race_id = serializers.CharField()
    appearance = AppearanceSerializer()
    level = serializers.IntegerField()
    xp = serializers.IntegerField()
    zone = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    facing = serializers.FloatField(help_text="Radians; 0 faces east (+x).")
    hp = serializers.IntegerField()
    max_hp = serializers.IntegerField()
    resource = serializers.IntegerField()
    max_resource = serializers.IntegerField()
    resource_type = serializers.CharField(help_text="rage, mana, focus... (from the class).")
    stats = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    last_played_at = serializers.DateTimeField(allow_null=True)
    last_saved_at = serializers.DateTimeField(allow_null=True)
    deleted_at = serializers.DateTimeField(allow_null=True)
    restorable_until = serializers.DateTimeField(
        allow_null=True, help_text="Set for a deleted character: restore before this moment."
    )


def character_output(character: Character) -> dict[str, Any]:
    class_ = get_character_content().classes.get(character.class_id)
    data = {
        field: getattr(character, field)
        for field in (
            "id",
            "name",
            "class_id",
            "race_id",
            "appearance",
            "level",
            "xp",
            "zone",
            "x",
            "y",
            "facing",
            "hp",
            "max_hp",
            "resource",
            "max_resource",
            "stats",
            "created_at",
            "last_played_at",
            "last_saved_at",
            "deleted_at",
        )
    }
    data["realm"] = {"slug": character.realm.slug, "name": character.realm.name}
    data["resource_type"] = class_.resource_type if class_ else ""
    data["restorable_until"] = character_restore_deadline(character)
    return CharacterOutput(data).data


# --- Options ------------------------------------------------------------------------------------


class ClassOptionOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    resource_type = serializers.CharField()
    base = serializers.DictField(child=serializers.IntegerField())


class RaceOptionOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    modifiers = serializers.DictField(child=serializers.IntegerField())


class RangeOutput(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class ColorOptionOutput(serializers.Serializer):
    id = serializers.CharField()
    hex = serializers.CharField()


class AppearanceOptionsOutput(serializers.Serializer):
    body = RangeOutput()
    hair = RangeOutput()
    colors = ColorOptionOutput(many=True)


class NameRulesOutput(serializers.Serializer):
    min_length = serializers.IntegerField()
    max_length = serializers.IntegerField()
    allowed = serializers.CharField()


class CharacterOptionsOutput(serializers.Serializer):
    classes = ClassOptionOutput(many=True)
    races = RaceOptionOutput(many=True)
    appearance = AppearanceOptionsOutput()
    name_rules = NameRulesOutput()
    characters_per_realm = serializers.IntegerField()
    restore_days = serializers.IntegerField()


class CharacterOptionsView(APIView):
    """Classes, races, appearance choices and name rules, for character-creation screens."""

    @extend_schema(
        operation_id="characters_options",
        tags=["characters"],
        responses={200: CharacterOptionsOutput, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        from django.conf import settings

        content = get_character_content()
        options = content.appearance
        data = {
            "classes": [
                {
                    "id": c.id,
                    "name": c.name,
                    "description": c.description,
                    "resource_type": c.resource_type,
                    "base": c.base,
                }
                for c in content.classes.values()
            ],
            "races": [
                {"id": r.id, "name": r.name, "description": r.description, "modifiers": r.modifiers}
                for r in content.races.values()
            ],
            "appearance": {
                "body": {"min": options.body_min, "max": options.body_max},
                "hair": {"min": options.hair_min, "max": options.hair_max},
                "colors": [{"id": key, "hex": value} for key, value in options.colors.items()],
            },
            "name_rules": {
                "min_length": NAME_MIN_LENGTH,
                "max_length": NAME_MAX_LENGTH,
                "allowed": "Letters A-Z only; stored with one capital first letter.",
            },
            "characters_per_realm": settings.CHARACTERS_PER_REALM,
            "restore_days": settings.CHARACTER_RESTORE_DAYS,
        }
        return Response(CharacterOptionsOutput(data).data)


# --- List, create, detail, delete, restore ---------------------------------------------


class CharacterListQuery(serializers.Serializer):
    # No trimming: "Z\x0b" must be refused as its schema pattern says, not read as "Z".
    realm = serializers.SlugField(
        required=False, max_length=40, trim_whitespace=False, help_text="Only this realm (slug)."
    )


class CharacterListView(APIView):
    """The caller's characters, deleted-but-restorable ones included (see ``deleted_at``)."""

    @extend_schema(
        operation_id="characters_list",
        tags=["characters"],
        parameters=[CharacterListQuery],
        responses={200: CharacterOutput(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        # A plain dict: as a QueryDict an empty ?realm= would be skipped, not refused as blank.
        query = CharacterListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)  # a malformed slug is a 400, never a database error
        characters = character_list_for_account(user=request_user(request))
        realm_slug = query.validated_data.get("realm")
        if realm_slug:
            characters = characters.filter(realm__slug=realm_slug)
        return Response([character_output(character) for character in characters])


class CharacterCreateInput(serializers.Serializer):
    realm = serializers.CharField(max_length=40, help_text="Realm slug, see /realms.")
    # Length and letters are checked by the service, which gives each rule its own code.
    name = serializers.CharField(max_length=64, trim_whitespace=True)
    class_id = serializers.CharField(max_length=20)
    race_id = serializers.CharField(max_length=20)
    appearance = AppearanceSerializer()


class CharacterCreateView(APIView):
    """Create a character. It starts in the town with its class and race base values.

    Name refusals each have a code: ``name_length``, ``name_charset``, ``name_reserved``,
    ``name_taken``; others: ``character_limit``, ``realm_unknown``, ``class_unknown``,
    ``race_unknown``, ``appearance_invalid``.
    """

    @extend_schema(
        operation_id="characters_create",
        tags=["characters"],
        request=CharacterCreateInput,
        responses={
            201: CharacterOutput,
            400: error_response("A rule refused the character; ``code`` says which."),
            401: UNAUTHENTICATED,
            403: error_response("Account suspended or banned."),
        },
    )
    def post(self, request: Request) -> Response:
        data = CharacterCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        character = character_create(
            user=request_user(request),
            realm_slug=data.validated_data["realm"],
            name=data.validated_data["name"],
            class_id=data.validated_data["class_id"],
            race_id=data.validated_data["race_id"],
            appearance=dict(data.validated_data["appearance"]),
        )
        return Response(character_output(character), status=201)


class CharacterDetailView(APIView):
    @extend_schema(
        operation_id="characters_detail",
        tags=["characters"],
        responses={200: CharacterOutput, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, character_id: int) -> Response:
        character = character_get_owned(user=request_user(request), character_id=character_id)
        return Response(character_output(character))


class CharacterDeleteView(APIView):
    """Soft-delete: restorable for the configured number of days, then purged."""

    @extend_schema(
        operation_id="characters_delete",
        tags=["characters"],
        request=None,
        responses={
            200: CharacterOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: error_response("Already deleted (character_deleted) or in the world."),
        },
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = character_delete(user=request_user(request), character_id=character_id)
        return Response(character_output(character))


class CharacterRestoreView(APIView):
    @extend_schema(
        operation_id="characters_restore",
        tags=["characters"],
        request=None,
        responses={
            200: CharacterOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: error_response("Not deleted, or the restore window has ended."),
        },
    )
    def post(self, request: Request, character_id: int) -> Response:
        character = character_restore(user=request_user(request), character_id=character_id)
        return Response(character_output(character))


# --- Entering the world -------------------------------------------------------------------------


class JoinOutput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ready", "queued"],
        help_text="ready: connect now; queued: poll /queue/{queue_id} after poll_after_seconds.",
    )
    realm = serializers.CharField()
    character_id = serializers.IntegerField()
    ticket = serializers.CharField(
        required=False, help_text="ready only: single-use world ticket; send it in the first frame."
    )
    ws_url = serializers.CharField(
        required=False, help_text="ready only: relative to this site or absolute (wss://...)."
    )
    shard = serializers.CharField(required=False)
    expires_in = serializers.IntegerField(required=False, help_text="Seconds the ticket lives.")
    queue_id = serializers.IntegerField(required=False)
    position = serializers.IntegerField(required=False, help_text="1 = next in line.")
    estimated_wait_seconds = serializers.IntegerField(
        required=False, allow_null=True, help_text="null until enough admissions were observed."
    )
    poll_after_seconds = serializers.IntegerField(required=False)


def join_output(outcome: JoinOutcome) -> dict[str, Any]:
    fields = {
        "status": outcome.status,
        "realm": outcome.realm,
        "character_id": outcome.character_id,
    }
    if outcome.status == "ready":
        fields |= {
            "ticket": outcome.ticket,
            "ws_url": outcome.ws_url,
            "shard": outcome.shard,
            "expires_in": outcome.expires_in,
        }
    else:
        fields |= {
            "queue_id": outcome.queue_id,
            "position": outcome.position,
            "estimated_wait_seconds": outcome.estimated_wait_seconds,
            "poll_after_seconds": outcome.poll_after_seconds,
        }
    # Returned as built: a serializer pass would add ``estimated_wait_seconds: null`` (a
    # nullable field) to ready answers, which carry only the ready fields.
    return fields


JOIN_RESPONSES = {
    200: JoinOutput,
    401: UNAUTHENTICATED,
    403: error_response("Account suspended or banned."),
    404: NOT_FOUND,
    409: error_response("Character deleted (character_deleted)."),
    503: error_response("Realm closed or no shard online (realm_closed, realm_unavailable)."),
}


class CharacterJoinView(APIView):
    """Enter the world: a single-use world ticket and the shard's WebSocket URL, or a place in
    the realm's login queue when it is full. Posting again polls the place; a second join of
    the account takes over (the older connection is closed with ``session_taken_over``)."""

    @extend_schema(
        operation_id="characters_join", tags=["world"], request=None, responses=JOIN_RESPONSES
    )
    def post(self, request: Request, character_id: int) -> Response:
        outcome = world_join(user=request_user(request), character_id=character_id)
        return Response(join_output(outcome))
