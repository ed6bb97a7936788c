"""REST API routes of the worlds app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path

from worlds import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("realms", api.RealmListView.as_view(), name="realms-list"),
    path("queue/<int:queue_id>", api.QueueStatusView.as_view(), name="queue-status"),
    path("queue/<int:queue_id>/leave", api.QueueLeaveView.as_view(), name="queue-leave"),
]
