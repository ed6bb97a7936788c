"""Portal (HTML) routes of the economy app."""

from django.urls import URLPattern, URLResolver, path

from economy import views

app_name = "economy"
urlpatterns: list[URLPattern | URLResolver] = [
    path("shop/", views.shop_page, name="shop"),
    path("shop/buy/", views.shop_buy, name="shop-buy"),
    path("characters/<int:character_id>/inventory/", views.inventory_page, name="inventory"),
]
