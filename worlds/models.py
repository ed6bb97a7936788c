"""Realms, shards, world sessions and the login queue.

A *realm* is the game world a player picks (its characters live there). A realm runs on one or
more *shards*: server processes with a capacity that report their population in a heartbeat.
Routing into the world (``worlds.services.world_join``) picks a shard, holds a slot for the
player (``ShardReservation``) and hands out a single-use world ticket; when no shard has room the
player waits in the realm's ``LoginQueueEntry`` line.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Region(models.TextChoices):
    EU = "eu", "Europe"
    NA = "na", "North America"
    AP = "ap", "Asia-Pacific"


class RealmKind(models.TextChoices):
    PVE = "pve", "PvE"
    PVP = "pvp", "PvP"


class Realm(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60, unique=True)
    region = models.CharField(max_length=8, choices=Region.choices)
    kind = models.CharField(max_length=8, choices=RealmKind.choices, default=RealmKind.PVE)
    is_open = models.BooleanField(
        default=True, help_text="Closed realms are hidden from players and refuse new characters."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ShardStatus(models.TextChoices):
    ONLINE = "online", "Online"
    # Draining: players already in stay until they leave; nobody new is routed here.
    DRAINING = "draining", "Draining"
    MAINTENANCE = "maintenance", "Maintenance"
    OFFLINE = "offline", "Offline"


class Shard(models.Model):
    """One world-server process of a realm. Population and status come from its heartbeat."""

    realm = models.ForeignKey(Realm, on_delete=models.PROTECT, related_name="shards")
    name = models.SlugField(max_length=60, unique=True)
    region = models.CharField(max_length=8, choices=Region.choices)
    capacity = models.PositiveIntegerField(default=500)
    status = models.CharField(
        max_length=16, choices=ShardStatus.choices, default=ShardStatus.OFFLINE
    )
    # An operator's draining/maintenance: a heartbeat reporting "online" cannot lift it (ADR 0012).
    held_status = models.CharField(
        max_length=16,
        choices=[("", "None"), ("draining", "Draining"), ("maintenance", "Maintenance")],
        blank=True,
        default="",
    )
    version = models.CharField(max_length=40, blank=True, default="")
    population = models.PositiveIntegerField(default=0)
    zone_populations = models.JSONField(default=dict, blank=True)
    ws_url = models.CharField(
        max_length=200,
        default="/ws/world/",
        help_text='Relative ("/ws/world/", served by this site) or absolute ("wss://...").',
    )
    zones = models.JSONField(
        default=list, blank=True, help_text="Zone ids this shard hosts; empty means every zone."
    )
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["realm_id", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gt=0), name="worlds_shard_capacity_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def heartbeat_is_fresh(self, *, now: datetime | None = None) -> bool:
        if self.last_heartbeat is None:
            return False
        timeout = timedelta(seconds=settings.SHARD_HEARTBEAT_TIMEOUT_SECONDS)
        return (now or timezone.now()) - self.last_heartbeat <= timeout

    def is_healthy(self, *, now: datetime | None = None) -> bool:
        """Online and heard from recently: the only state in which players are routed here."""
        return self.status == ShardStatus.ONLINE and self.heartbeat_is_fresh(now=now)

    def hosts_zone(self, zone_id: str) -> bool:
        return not self.zones or zone_id in self.zones


class ShardReservation(models.Model):
    """A slot held on a shard for a player who was routed there but is not counted in the
    shard's reported population yet.

    Created when a join issues a ticket (or the login queue admits the player); it expires with
    the ticket, or, once the ticket is redeemed, ends at the shard's next heartbeat, whose
    population then includes the player. One per account: a new join replaces the old one.
    """

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shard_reservation"
    )
    shard = models.ForeignKey(Shard, on_delete=models.CASCADE, related_name="reservations")
    character = models.ForeignKey(
        "characters.Character", on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["shard", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} -> {self.shard_id}"


class WorldSession(models.Model):
    """The account's one seat in the world. ``epoch`` grows with every join; a gateway
    connection whose ticket carries an older epoch has been taken over and must close."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="world_session"
    )
    character = models.ForeignKey(
        "characters.Character", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shard = models.ForeignKey(
        Shard, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    epoch = models.PositiveBigIntegerField(default=0)
    connected_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the gateway accepts the ticket of this epoch."
    )
    disconnected_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"session {self.account_id}#{self.epoch}"

    @property
    def is_connected(self) -> bool:
        return self.connected_at is not None and self.disconnected_at is None


class QueueStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    # Admitted: a slot is reserved; the player's next poll turns it into a world ticket.
    ADMITTED = "admitted", "Admitted"
    CLAIMED = "claimed", "Claimed"
    # Left: the player stopped polling, joined elsewhere or the admission was not claimed in time.
    LEFT = "left", "Left"


class LoginQueueEntry(models.Model):
    """A player waiting for room in a full realm. Strict FIFO per realm by primary key."""

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="queue_entries")
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_queue_entries"
    )
    character = models.ForeignKey(
        "characters.Character", on_delete=models.CASCADE, related_name="+"
    )
    region = models.CharField(max_length=8, default="eu")
    status = models.CharField(
        max_length=16, choices=QueueStatus.choices, default=QueueStatus.WAITING
    )
    enqueued_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_shard = models.ForeignKey(
        Shard, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["realm", "status", "id"]),
            models.Index(fields=["realm", "admitted_at"]),
        ]
        constraints = [
            # One live place in line per account (across realms: one seat in the world).
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status__in=["waiting", "admitted"]),
                name="worlds_queue_one_live_entry_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"queue {self.pk} {self.realm_id} {self.status}"
