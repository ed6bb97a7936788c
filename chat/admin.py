"""GM console for chat history: read what was said, never rewrite it.

Staff with the ``chat.view_chatmessage`` permission can search and filter; nobody can add or edit
a line; only superusers may delete (e.g. a legal request), everything else goes by retention.
The table is large and hot, so the changelist avoids whole-table queries: it lands on today's
lines, shows no full result count, and the zone filter lists the zones from content instead of
``SELECT DISTINCT`` over the rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import urlencode

from chat.models import ChatMessage


class ZoneFilter(admin.SimpleListFilter):
    title = "zone"
    parameter_name = "zone"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from worlds.content import get_zone_maps

        return [(zone, zone) for zone in sorted(get_zone_maps())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(zone=value) if value else queryset


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "realm", "zone", "channel", "sender_name", "sender", "text"]
    list_filter = ["channel", "realm", ZoneFilter]
    search_fields = ["sender_name", "text"]
    search_help_text = "Sender name or words of the message (slow over a long period)."
    date_hierarchy = "sent_at"
    ordering = ["-sent_at", "-pk"]
    list_select_related = ["realm", "sender"]
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = [
        "sent_at",
        "realm",
        "shard",
        "zone",
        "channel",
        "channel_key",
        "sender",
        "sender_name",
        "text",
    ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The bare changelist lands on today's lines: unfiltered, it would count and scan the
        whole table (a month of every realm's chat) just to draw the first page."""
        if request.method == "GET" and not request.GET:
            today = timezone.localdate()
            query = {"sent_at__year": today.year, "sent_at__month": today.month}
            query["sent_at__day"] = today.day
            return HttpResponseRedirect(f"{request.path}?{urlencode(query)}")
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)
