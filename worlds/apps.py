from django.apps import AppConfig


class WorldsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "worlds"
    verbose_name = "Worlds"

    def ready(self) -> None:
        # A malformed zone file must stop the process at start-up, naming the file and fault.
        from worlds.content import zone_maps_load

        zone_maps_load()
