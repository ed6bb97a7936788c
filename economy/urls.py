"""Portal (HTML) routes of the economy app."""

from django.urls import URLPattern, URLResolver

app_name = "economy"
urlpatterns: list[URLPattern | URLResolver] = []
