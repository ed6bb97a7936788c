from django.apps import AppConfig


class WorldsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "worlds"
    verbose_name = "Worlds"

    def ready(self) -> None:
        # A malformed zone file must stop the process at start-up, naming the file and fault.
        from worlds.content import zone_maps_load

        zone_maps_load()

        from accounts.signals import account_standing_changed
        from worlds.receivers import close_world_connections_of_restricted_account

        account_standing_changed.connect(
            close_world_connections_of_restricted_account, dispatch_uid="worlds-close-restricted"
        )
