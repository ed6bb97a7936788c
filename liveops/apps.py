from django.apps import AppConfig


class LiveopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "liveops"
    verbose_name = "Live ops"

    def ready(self) -> None:
        from liveops import signals

        signals.connect_ops_signals()
