"""REST API routes of the liveops app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path

from liveops import leaderboard_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("leaderboards", leaderboard_api.LeaderboardListApi.as_view(), name="leaderboards-list"),
    path(
        "leaderboards/<slug:key>/seasons",
        leaderboard_api.LeaderboardSeasonsApi.as_view(),
        name="leaderboards-seasons",
    ),
    path(
        "leaderboards/<slug:key>/standings",
        leaderboard_api.LeaderboardStandingsApi.as_view(),
        name="leaderboards-standings",
    ),
    path(
        "leaderboards/<slug:key>/me",
        leaderboard_api.LeaderboardMyRanksApi.as_view(),
        name="leaderboards-my-ranks",
    ),
]
