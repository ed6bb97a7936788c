"""Admin for the operations models (read-mostly: rows are written by the ops services)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from liveops.models import BackupRecord, MetricSample, OpsAlert, RestoreVerification


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


@admin.action(description="Mark selected alerts resolved")
def resolve_alerts(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[OpsAlert]
) -> None:
    queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())


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
