from django.apps import AppConfig


class LiveopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "liveops"
