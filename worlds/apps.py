from django.apps import AppConfig


class WorldsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "worlds"
