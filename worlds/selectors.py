"""Realm, shard, session and login-queue reads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from worlds.models import (
    LoginQueueEntry,
    QueueStatus,
    Realm,
    Shard,
    ShardReservation,
    ShardStatus,
    WorldSession,
)

# Fill ratios at which a realm's load label changes (shown in the realm list).
LOAD_MEDIUM_AT = 0.5
LOAD_HIGH_AT = 0.85
# The wait estimate needs at least this many admissions in the window (ADR 0010).
QUEUE_ESTIMATE_MIN_ADMISSIONS = 3
# Admission rates over a span shorter than this are too noisy to extrapolate from.
QUEUE_ESTIMATE_MIN_SPAN_SECONDS = 60.0


def shard_healthy_q(*, now: datetime) -> Q:
    """Filter for shards players may be routed to: online and heartbeat not stale."""
    fresh_after = now - timedelta(seconds=settings.SHARD_HEARTBEAT_TIMEOUT_SECONDS)
    return Q(status=ShardStatus.ONLINE, last_heartbeat__gte=fresh_after)


def _reservation_live_q(*, now: datetime, prefix: str = "") -> Q:
    # A redeemed reservation counts until the shard's next heartbeat deletes it (its population
    # then includes the player); an unredeemed one until its ticket would have expired.
    return Q(**{f"{prefix}redeemed_at__isnull": False}) | Q(**{f"{prefix}expires_at__gt": now})


def shards_with_load(*, realm: Realm, now: datetime) -> QuerySet[Shard]:
    """The realm's healthy shards annotated with ``reserved`` (held slots not in population)."""
    return (
        Shard.objects.filter(shard_healthy_q(now=now), realm=realm)
        .annotate(
            reserved=Count(
                "reservations", filter=_reservation_live_q(now=now, prefix="reservations__")
            )
        )
        .order_by("name", "pk")
    )


def shard_pick_for_join(
    *, realm: Realm, region: str, zone: str | None = None, now: datetime | None = None
) -> Shard | None:
    """Choose the shard a player joining ``realm`` is routed to, or None when all are full.

    Only healthy shards (online, fresh heartbeat; never draining, maintenance, offline or
    stale) that host ``zone`` and have ``population + reserved < capacity`` qualify. Among
    them the player's region wins when it has room; then the lowest fill ratio; ties go to the
    shard name, so the choice is deterministic.
    """
    now = now or timezone.now()
    candidates = [
        shard
        for shard in shards_with_load(realm=realm, now=now)
        if (zone is None or shard.hosts_zone(zone)) and shard_slots_used(shard) < shard.capacity
    ]
    in_region = [shard for shard in candidates if shard.region == region]
    pool = in_region or candidates
    if not pool:
        return None
    return min(pool, key=lambda s: (shard_slots_used(s) / s.capacity, s.name))


def shard_slots_used(shard: Shard) -> int:
    """Reported population plus held slots; ``shard`` comes from ``shards_with_load``."""
    reserved: int = shard.reserved  # type: ignore[attr-defined]
    return shard.population + reserved


def realm_has_healthy_shard(*, realm: Realm, zone: str | None, now: datetime) -> bool:
    shards = Shard.objects.filter(shard_healthy_q(now=now), realm=realm)
    return any(zone is None or shard.hosts_zone(zone) for shard in shards)


@dataclass(frozen=True)
class RealmSummary:
    realm: Realm
    online: bool
    population: int
    capacity: int
    load: str  # "low" | "medium" | "high" | "full" | "offline"
    queue_length: int


def realm_summaries(*, now: datetime | None = None) -> list[RealmSummary]:
    """Open realms with their live status, for the realm list (a fixed number of queries)."""
    now = now or timezone.now()
    realms = list(Realm.objects.filter(is_open=True).order_by("name"))
    shards = list(
        Shard.objects.filter(shard_healthy_q(now=now), realm__in=realms).annotate(
            reserved=Count(
                "reservations", filter=_reservation_live_q(now=now, prefix="reservations__")
            )
        )
    )
    queue_lengths = dict(
        LoginQueueEntry.objects.filter(realm__in=realms, status=QueueStatus.WAITING)
        .values_list("realm_id")
        .annotate(n=Count("pk"))
        .values_list("realm_id", "n")
    )
    summaries = []
    for realm in realms:
        realm_shards = [shard for shard in shards if shard.realm_id == realm.pk]
        population = sum(shard.population for shard in realm_shards)
        used = sum(shard_slots_used(shard) for shard in realm_shards)
        capacity = sum(shard.capacity for shard in realm_shards)
        queue_length = queue_lengths.get(realm.pk, 0)
        summaries.append(
            RealmSummary(
                realm=realm,
                online=bool(realm_shards),
                population=population,
                capacity=capacity,
                load=_load_label(used=used, capacity=capacity, queue_length=queue_length),
                queue_length=queue_length,
            )
        )
    return summaries


def _load_label(*, used: int, capacity: int, queue_length: int) -> str:
    if capacity == 0:
        return "offline"
    ratio = used / capacity
    if queue_length or ratio >= 1:
        return "full"
    if ratio >= LOAD_HIGH_AT:
        return "high"
    if ratio >= LOAD_MEDIUM_AT:
        return "medium"
    return "low"


def world_session_is_current(*, account_id: int, epoch: int) -> bool:
    """True if ``epoch`` is the account's latest world session: the gateway calls this on
    connect (and may on each save) and closes connections of an older epoch."""
    return WorldSession.objects.filter(account_id=account_id, epoch=epoch).exists()


def login_queue_position(entry: LoginQueueEntry) -> int:
    """1 for the head of the line; 0 once admitted (or no longer waiting)."""
    if entry.status != QueueStatus.WAITING:
        return 0
    return LoginQueueEntry.objects.filter(
        realm_id=entry.realm_id, status=QueueStatus.WAITING, pk__lte=entry.pk
    ).count()


def login_queue_estimated_wait(
    *, realm: Realm, position: int, now: datetime | None = None
) -> int | None:
    """Seconds until a player at ``position`` is admitted, from the realm's observed admission
    rate over the last ``LOGIN_QUEUE_RATE_WINDOW_SECONDS`` (ADR 0010); None while too few
    admissions were seen to say anything honest."""
    if position <= 0:
        return 0
    now = now or timezone.now()
    window_start = now - timedelta(seconds=settings.LOGIN_QUEUE_RATE_WINDOW_SECONDS)
    stats = LoginQueueEntry.objects.filter(realm=realm, admitted_at__gte=window_start).aggregate(
        admissions=Count("pk"), first=Min("admitted_at")
    )
    admissions: int = stats["admissions"]
    if admissions < QUEUE_ESTIMATE_MIN_ADMISSIONS or stats["first"] is None:
        return None
    span = max((now - stats["first"]).total_seconds(), QUEUE_ESTIMATE_MIN_SPAN_SECONDS)
    rate_per_second = admissions / span
    seconds = position / rate_per_second
    # Round up to 10 s: the estimate is rough and a countdown to the second would pretend not.
    return int(math.ceil(seconds / 10.0) * 10)


def reservation_live_for_account(*, account_id: int, now: datetime) -> ShardReservation | None:
    return (
        ShardReservation.objects.select_related("shard")
        .filter(_reservation_live_q(now=now), account_id=account_id)
        .first()
    )


def shards_served_locally() -> QuerySet[Shard]:
    """Shards whose WebSocket URL is relative, i.e. served by this site's own ASGI process: the
    embedded world loop heartbeats each of them (ADR 0012)."""
    return Shard.objects.filter(ws_url__startswith="/").select_related("realm").order_by("name")
