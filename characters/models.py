"""Characters: a player's hero in one realm.

The world server owns the live state (zone, position, facing, HP/resource, level, XP, stats) while
the character is in the world and flushes it back in batches; ``world_version`` grows with each
flush so a late, stale flush can be detected and refused. Deleting is soft: ``deleted_at`` starts a
restore window, after which ``characters.services.character_purge_expired`` marks the row purged
(kept for history, e.g. ledger references) and frees the name.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Character(models.Model):
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="characters"
    )
    realm = models.ForeignKey("worlds.Realm", on_delete=models.PROTECT, related_name="characters")
    name = models.CharField(max_length=16)
    # Casefolded name: the uniqueness key (so "Alice" and "ALICE" collide).
    name_key = models.CharField(max_length=16)
    class_id = models.CharField(max_length=20)
    race_id = models.CharField(max_length=20)
    appearance = models.JSONField(default=dict)

    level = models.PositiveSmallIntegerField(default=1)
    xp = models.PositiveBigIntegerField(default=0)
    zone = models.CharField(max_length=40)
    x = models.FloatField()
    y = models.FloatField()
    facing = models.FloatField(default=0.0, help_text="Radians; 0 faces +x (east).")
    hp = models.PositiveIntegerField()
    max_hp = models.PositiveIntegerField()
    resource = models.PositiveIntegerField()
    max_resource = models.PositiveIntegerField()
    stats = models.JSONField(default=dict)

    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    last_saved_at = models.DateTimeField(null=True, blank=True)
    last_played_at = models.DateTimeField(null=True, blank=True)
    world_version = models.PositiveBigIntegerField(default=0)
    # The account's world-session epoch of this character's latest join (see worlds.WorldSession).
    session_epoch = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["realm_id", "created_at", "pk"]
        constraints = [
            # Purged rows keep their name for history but no longer reserve it.
            models.UniqueConstraint(
                fields=["realm", "name_key"],
                condition=models.Q(purged_at__isnull=True),
                name="characters_unique_name_per_realm",
            ),
            models.CheckConstraint(
                condition=models.Q(hp__lte=models.F("max_hp")),
                name="characters_hp_within_max",
            ),
        ]
        indexes = [models.Index(fields=["account", "realm"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
