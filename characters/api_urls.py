"""REST API routes of the characters app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path

from characters import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("characters", api.CharacterListView.as_view(), name="characters-list"),
    path("characters/options", api.CharacterOptionsView.as_view(), name="characters-options"),
    path("characters/create", api.CharacterCreateView.as_view(), name="characters-create"),
    path(
        "characters/<int:character_id>", api.CharacterDetailView.as_view(), name="characters-detail"
    ),
    path(
        "characters/<int:character_id>/delete",
        api.CharacterDeleteView.as_view(),
        name="characters-delete",
    ),
    path(
        "characters/<int:character_id>/restore",
        api.CharacterRestoreView.as_view(),
        name="characters-restore",
    ),
    path(
        "characters/<int:character_id>/join",
        api.CharacterJoinView.as_view(),
        name="characters-join",
    ),
]
