"""Admin for the operations models (read-mostly: rows are written by the ops services) and the
leaderboards (boards editable; seasons and records read-only, changed by the services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import User
from liveops.leaderboard_services import CLOSE_REASON_MAX_LENGTH, leaderboard_season_close_now
from liveops.models import (
    BackupRecord,
    Leaderboard,
    LeaderboardRecord,
    LeaderboardSeason,
    MetricSample,
    OpsAlert,
    RestoreVerification,
)
from mmo_platform.admin_base import ReadOnlyAdmin
from mmo_platform.audit import gm_action_record
from mmo_platform.errors import DomainError

# Closing a season early is a GM action on live standings: same permission as editing boards.
CLOSE_SEASON_PERMISSION = "liveops.change_leaderboard"


@admin.register(BackupRecord)
class BackupRecordAdmin(admin.ModelAdmin):
    list_display = ("started_at", "status", "trigger", "vendor", "file_name", "size_bytes")
    list_filter = ("status", "trigger", "vendor")
    readonly_fields = [f.name for f in BackupRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RestoreVerification)
class RestoreVerificationAdmin(admin.ModelAdmin):
    list_display = ("started_at", "backup_file", "ok", "tables_checked", "error")
    list_filter = ("ok",)
    readonly_fields = [f.name for f in RestoreVerification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Mark selected alerts resolved", permissions=["change"])
def resolve_alerts(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[OpsAlert]
) -> None:
    open_alerts = list(queryset.filter(resolved_at__isnull=True).order_by("pk"))
    OpsAlert.objects.filter(pk__in=[alert.pk for alert in open_alerts]).update(
        resolved_at=timezone.now()
    )
    gm_action_record(actor=request.user, objects=open_alerts, message="Resolved")
    modeladmin.message_user(request, f"Resolved {len(open_alerts)} alert(s).")


@admin.register(OpsAlert)
class OpsAlertAdmin(admin.ModelAdmin):
    list_display = ("last_seen_at", "severity", "key", "message", "occurrences", "resolved_at")
    list_filter = ("severity", "source", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("key", "message")
    readonly_fields = (
        "key",
        "source",
        "severity",
        "message",
        "details",
        "occurrences",
        "raised_at",
        "last_seen_at",
    )
    actions = [resolve_alerts]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MetricSample)
class MetricSampleAdmin(admin.ModelAdmin):
    list_display = ("taken_at",)
    readonly_fields = ("taken_at", "values", "counters")
    date_hierarchy = "taken_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- Leaderboards -----------------------------------------------------------------------------


@admin.register(Leaderboard)
class LeaderboardAdmin(admin.ModelAdmin):
    """Boards are editable; ``Leaderboard.clean`` refuses definitions the services cannot run
    (a built-in board with another operator than 'set', malformed reward tiers)."""

    list_display = ("key", "title", "scope", "source", "operator", "reset_schedule", "enabled")
    list_filter = ("enabled", "scope", "source", "reset_schedule")
    search_fields = ("key", "title")
    readonly_fields = ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would erase every season's final standings: disable the board instead.
        return False


class CloseSeasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=CLOSE_REASON_MAX_LENGTH)


@admin.register(LeaderboardSeason)
class LeaderboardSeasonAdmin(ReadOnlyAdmin):
    """Read-only: seasons change only through the rollover service. "Close now" ends a season
    early through that service; the GM and reason land on the season and in the admin log."""

    list_display = (
        "board",
        "number",
        "status",
        "starts_at",
        "ends_at",
        "closed_at",
        "closed_by_label",
    )
    list_filter = ("status", "board")
    search_fields = ("board__key", "board__title", "closed_by_label", "close_reason")
    readonly_fields = [f.name for f in LeaderboardSeason._meta.fields]
    actions = ["close_seasons_now"]

    def has_close_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CLOSE_SEASON_PERMISSION)

    @admin.action(description="Close selected seasons now…", permissions=["close"])
    def close_seasons_now(
        self, request: HttpRequest, queryset: QuerySet[LeaderboardSeason]
    ) -> HttpResponse | None:
        seasons = list(queryset.select_related("board").order_by("pk"))
        form = CloseSeasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._close(request, seasons, form.cleaned_data["reason"])
            return None  # back to the change list
        context = {
            **self.admin_site.each_context(request),
            "title": "Close seasons now",
            "form": form,
            "seasons": seasons,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "liveops/admin/close_seasons.html", context)

    def _close(self, request: HttpRequest, seasons: list[LeaderboardSeason], reason: str) -> None:
        actor = request.user
        assert isinstance(actor, User)
        for season in seasons:
            try:
                outcome = leaderboard_season_close_now(season=season, actor=actor, reason=reason)
            except DomainError as error:
                self.message_user(request, f"{season}: {error.message}", messages.ERROR)
                continue
            self.log_change(request, season, f"Closed early: {reason}")
            self.message_user(
                request, f"{season} closed; season {outcome.opened_season} is now open."
            )


@admin.register(LeaderboardRecord)
class LeaderboardRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "season",
        "character",
        "realm",
        "score",
        "subscore",
        "updated_at",
        "final_rank",
        "reward_state",
    )
    list_filter = ("reward_state", "season__board", "season__status")
    search_fields = ("character__name", "season__board__key")
    list_select_related = ("season__board", "character", "realm")
    readonly_fields = [f.name for f in LeaderboardRecord._meta.fields]
