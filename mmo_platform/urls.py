from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mmo_platform.views import api_not_found, home
from worlds.play import play_view

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("accounts.api_urls")),
    path("", include("characters.api_urls")),
    path("", include("worlds.api_urls")),
    path("", include("chat.api_urls")),
    path("", include("economy.api_urls")),
    path("", include("liveops.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^(?P<unmatched>.*)$", api_not_found),  # last: unknown API paths answer JSON
]

urlpatterns = [
    path("", home, name="home"),
    path("play", play_view, name="play"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/v1/", include(api_patterns)),
    path("", include("mmo_platform.health_urls")),
    path("", include("accounts.urls")),
    path("", include("characters.urls")),
    path("", include("worlds.urls")),
    path("", include("chat.urls")),
    path("", include("economy.urls")),
    path("", include("liveops.urls")),
]

handler404 = "mmo_platform.views.page_not_found"
handler500 = "mmo_platform.views.server_error"
