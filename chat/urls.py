"""Portal (HTML) routes of the chat app."""

from django.urls import URLPattern, URLResolver

app_name = "chat"
urlpatterns: list[URLPattern | URLResolver] = []
