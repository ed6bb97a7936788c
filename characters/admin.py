"""Admin for characters: search by name or account, filter by realm and deletion state.
World-owned state (position, HP, XP...) is read-only here: the world server flushes it and would
overwrite an edit; GM tools in liveops change it through the world."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from characters.models import Character
from characters.services import appearance_validate
from mmo_platform.errors import ValidationFailed


class CharacterAdminForm(forms.ModelForm):
    class Meta:
        model = Character
        fields = ["appearance"]  # the admin adds its other fields

    def clean_appearance(self) -> dict[str, Any]:
        """The same rules as character creation: the API and the world read this field."""
        try:
            return appearance_validate(self.cleaned_data.get("appearance"))
        except ValidationFailed as error:
            raise forms.ValidationError(error.message) from None


class DeletionStateFilter(admin.SimpleListFilter):
    title = "deletion state"
    parameter_name = "deletion"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("live", "Live"),
            ("deleted", "Deleted (restorable)"),
            ("purged", "Purged"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Character]) -> QuerySet[Character]:
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False, purged_at__isnull=True)
        if self.value() == "purged":
            return queryset.filter(purged_at__isnull=False)
        return queryset


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    form = CharacterAdminForm
    list_display = (
        "name",
        "account",
        "realm",
        "class_id",
        "race_id",
        "level",
        "zone",
        "deleted_at",
        "purged_at",
        "last_played_at",
    )
    list_filter = (DeletionStateFilter, "realm", "class_id", "race_id")
    search_fields = ("name", "account__username", "account__email")
    list_select_related = ("account", "realm")
    # Renames and moves must go through services (name rules, unique key, the world's copy);
    # so must a change of owner (characters per realm, the live world session).
    readonly_fields = (
        "account",
        "name",
        "realm",
        "class_id",
        "race_id",
        "name_key",
        "zone",
        "x",
        "y",
        "facing",
        "hp",
        "max_hp",
        "resource",
        "max_resource",
        "level",
        "xp",
        "stats",
        "created_at",
        "deleted_at",
        "purged_at",
        "last_saved_at",
        "last_played_at",
        "world_version",
        "session_epoch",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creation applies the name rules and starting values: players use the portal/API.
        return False
