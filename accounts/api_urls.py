"""REST API routes of the accounts app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path

from accounts import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/ws-ticket", api.WsTicketView.as_view(), name="auth-ws-ticket"),
    path(
        "auth/logout-everywhere", api.LogoutEverywhereView.as_view(), name="auth-logout-everywhere"
    ),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
]
