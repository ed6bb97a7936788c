"""Portal (HTML) routes of the characters app."""

from django.urls import URLPattern, URLResolver, path

from characters import views

app_name = "characters"
urlpatterns: list[URLPattern | URLResolver] = [
    path("characters/", views.character_list, name="list"),
    path("characters/new/", views.character_new, name="create"),
    path("characters/<int:character_id>/delete/", views.character_delete_confirm, name="delete"),
    path("characters/<int:character_id>/restore/", views.character_restore_view, name="restore"),
]
