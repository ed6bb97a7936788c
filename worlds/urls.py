"""Portal (HTML) routes of the worlds app."""

from django.urls import URLPattern, URLResolver, path

from characters.views import realm_list

app_name = "worlds"
urlpatterns: list[URLPattern | URLResolver] = [
    # The page lives with the character pages it leads to (choose a realm, then create).
    path("realms/", realm_list, name="realm-list"),
]
