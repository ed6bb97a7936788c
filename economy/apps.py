from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_migrate


class EconomyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "economy"
    verbose_name = "Economy"

    def ready(self) -> None:
        # A malformed items.json or shop.json must stop start-up, naming the file and the fault.
        from economy.catalog import CatalogError, get_catalog

        try:
            get_catalog()
        except CatalogError as error:
            raise ImproperlyConfigured(f"Economy content is invalid: {error}") from error
        post_migrate.connect(_sync_catalog_after_migrate, sender=self)


def _sync_catalog_after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Keep the ItemDefinition / ShopOffer mirror equal to content after every migrate (and after
    test-database flushes, which also emit post_migrate)."""
    from economy.services.catalog_sync import catalog_sync

    catalog_sync()
