"""Admin for realms and shards. Shard status changes go through ``shard_set_status`` (the
drain / maintenance / online actions) so an operator's hold survives heartbeats and the login
queue advances when a shard comes back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mmo_platform.audit import gm_action_record
from mmo_platform.text import has_hidden_characters
from worlds.content import get_zone_maps
from worlds.models import LoginQueueEntry, Realm, Shard, ShardStatus
from worlds.services import shard_set_status


class ShardAdminForm(forms.ModelForm):
    """Routing reads ``zones`` and clients open ``ws_url``: both are checked before saving."""

    class Meta:
        model = Shard
        fields = ["zones", "ws_url"]  # the admin adds its other fields

    def clean_zones(self) -> list[str]:
        zones: Any = self.cleaned_data.get("zones")
        if zones in (None, ""):
            return []
        if not isinstance(zones, list) or not all(isinstance(zone, str) for zone in zones):
            raise forms.ValidationError('A list of zone ids, e.g. ["town", "field"].')
        unknown = sorted(set(zones) - set(get_zone_maps()))
        if unknown:
            raise forms.ValidationError(f"Unknown zone(s): {', '.join(unknown)}.")
        return list(dict.fromkeys(zones))  # duplicates dropped, order kept

    def clean_ws_url(self) -> str:
        url: str = self.cleaned_data["ws_url"].strip()
        parts = urlsplit(url)
        relative = not parts.scheme and not parts.netloc and url.startswith("/")
        absolute = parts.scheme in ("ws", "wss") and bool(parts.netloc)
        if has_hidden_characters(url) or " " in url or not (relative or absolute):
            raise forms.ValidationError(
                'A path on this site ("/ws/world/") or a ws:// or wss:// URL.'
            )
        return url


class ShardInline(admin.TabularInline):
    model = Shard
    extra = 0
    fields = ("name", "region", "capacity", "status", "population", "last_heartbeat")
    readonly_fields = ("status", "population", "last_heartbeat")
    show_change_link = True


@admin.register(Realm)
class RealmAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "region", "kind", "is_open", "created_at")
    list_filter = ("region", "kind", "is_open")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ShardInline]


@admin.register(Shard)
class ShardAdmin(admin.ModelAdmin):
    form = ShardAdminForm
    list_display = (
        "name",
        "realm",
        "region",
        "status",
        "held_status",
        "healthy",
        "population",
        "capacity",
        "heartbeat_age",
        "version",
    )
    list_filter = ("status", "realm", "region")
    search_fields = ("name", "realm__name")
    readonly_fields = (
        "status",
        "held_status",
        "population",
        "zone_populations",
        "last_heartbeat",
        "version",
        "created_at",
    )
    actions = ["drain", "maintenance", "bring_online"]

    @admin.display(boolean=True, description="Healthy")
    def healthy(self, shard: Shard) -> bool:
        return shard.is_healthy()

    @admin.display(description="Heartbeat age", ordering="last_heartbeat")
    def heartbeat_age(self, shard: Shard) -> str:
        if shard.last_heartbeat is None:
            return "never"
        seconds = int((timezone.now() - shard.last_heartbeat).total_seconds())
        return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"

    @admin.action(description="Drain: keep players, route nobody new", permissions=["change"])
    def drain(self, request: HttpRequest, queryset: QuerySet[Shard]) -> None:
        self._set_status(request, queryset, ShardStatus.DRAINING)

    @admin.action(description="Maintenance: route nobody", permissions=["change"])
    def maintenance(self, request: HttpRequest, queryset: QuerySet[Shard]) -> None:
        self._set_status(request, queryset, ShardStatus.MAINTENANCE)

    @admin.action(description="Online: lift drain/maintenance", permissions=["change"])
    def bring_online(self, request: HttpRequest, queryset: QuerySet[Shard]) -> None:
        self._set_status(request, queryset, ShardStatus.ONLINE)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Shard], status: str) -> None:
        shards = list(queryset.order_by("pk"))
        for shard in shards:
            shard_set_status(shard=shard, status=status)
        gm_action_record(actor=request.user, objects=shards, message=f"Status set to {status}")
        self.message_user(request, f"{len(shards)} shard(s) set to {status}.")


@admin.register(LoginQueueEntry)
class LoginQueueEntryAdmin(admin.ModelAdmin):
    list_display = ("pk", "realm", "account", "character", "status", "enqueued_at", "admitted_at")
    list_filter = ("status", "realm")
    search_fields = ("account__username", "character__name")
    readonly_fields = [field.name for field in LoginQueueEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
