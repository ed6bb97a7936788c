from django.apps import AppConfig


class CharactersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "characters"
    verbose_name = "Characters"

    def ready(self) -> None:
        # A malformed classes/races or reserved-names file must stop start-up, not the first
        # character creation hours later.
        from characters.content import character_content_load

        character_content_load()
