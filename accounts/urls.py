"""Portal (HTML) routes of the accounts app."""

from django.urls import URLPattern, URLResolver, path

from accounts import views

app_name = "accounts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("account/", views.account_overview, name="overview"),
    path("account/sessions/end-all/", views.sessions_end_all, name="sessions-end-all"),
    path("account/sessions/<int:session_id>/end/", views.session_end, name="session-end"),
]
