"""Admin for characters: search by name or account, filter by realm and deletion state.
World-owned state (position, HP, XP...) is read-only here: the world server flushes it and would
overwrite an edit; GM tools in liveops change it through the world."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from characters.models import Character


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
    # Renames and moves must go through services (name rules, unique key, the world's copy).
    readonly_fields = (
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
    raw_id_fields = ("account",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Creation applies the name rules and starting values: players use the portal/API.
        return False
