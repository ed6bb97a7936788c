"""Portal (HTML) routes of the liveops app."""

from django.urls import URLPattern, URLResolver

app_name = "liveops"
urlpatterns: list[URLPattern | URLResolver] = []
