"""Portal (HTML) routes of the liveops app."""

from django.urls import URLPattern, URLResolver, path

from liveops import leaderboard_views, ops_views

app_name = "liveops"
urlpatterns: list[URLPattern | URLResolver] = [
    # Operations (issue 5): staff-only dashboard and its data.
    path("ops/", ops_views.ops_dashboard, name="ops-dashboard"),
    path("ops/api/series", ops_views.OpsSeriesApi.as_view(), name="ops-series"),
    path("leaderboards/", leaderboard_views.leaderboards_page, name="leaderboards"),
]
