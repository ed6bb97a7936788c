"""Portal (HTML) routes of the worlds app."""

from django.urls import URLPattern, URLResolver

app_name = "worlds"
urlpatterns: list[URLPattern | URLResolver] = []
