"""Realm and shard use cases: heartbeats, operator status changes, entering the world and the
login queue.

Entering the world (``world_join``), in order:

1. the account may play and owns the (not deleted) character; the realm is open;
2. a slot the account already holds in this realm (a live reservation from an earlier join or a
   queue admission, or a connected session whose shard hosts the character's zone) is reused,
   so a repeated join or a takeover never waits in line;
3. otherwise, if anyone is waiting in the realm's login queue, the player joins the back of it
   (nobody skips the line), else ``shard_pick_for_join`` chooses a shard; if every shard is full
   the player is queued, if none is healthy the realm is unavailable;
4. a ready join bumps the account's session epoch, holds a slot on the shard for the ticket's
   lifetime and, after commit, tells the gateway group ``account-<id>`` that older sessions are
   taken over.

Locks are taken in one order everywhere: realm row, then account row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import account_assert_may_play
from accounts.tickets import ticket_consume, ticket_issue
from characters.models import Character
from characters.selectors import character_get_owned
from mmo_platform.errors import Conflict, NotFound, Unavailable, ValidationFailed
from worlds.models import (
    LoginQueueEntry,
    QueueStatus,
    Realm,
    Shard,
    ShardReservation,
    ShardStatus,
    WorldSession,
)
from worlds.selectors import (
    login_queue_estimated_wait,
    login_queue_position,
    realm_has_healthy_shard,
    reservation_live_for_account,
    shard_pick_for_join,
)

logger = logging.getLogger(__name__)

WORLD_TICKET_PURPOSE = "world"
_HELD_STATUSES = {ShardStatus.DRAINING, ShardStatus.MAINTENANCE}


def account_group_name(account_id: int) -> str:
    """Channel-layer group every gateway connection of the account is subscribed to."""
    return f"account-{account_id}"


# --- Shards ---------------------------------------------------------------------------------


def shard_heartbeat(
    *,
    shard_name: str,
    population: int,
    status: str | None = None,
    version: str | None = None,
    zone_populations: dict[str, int] | None = None,
    realm_slug: str | None = None,
    region: str | None = None,
    capacity: int | None = None,
    ws_url: str | None = None,
    zones: list[str] | None = None,
    now: datetime | None = None,
) -> Shard:
    """Record a shard's heartbeat (the world runtime calls this every few seconds).

    An unknown shard is registered only when ``realm_slug`` is given (its region defaults to the
    realm's); otherwise NotFound. ``status`` is what the process reports (omit it to keep the
    current one); an operator's draining/maintenance hold wins over a reported "online" until
    the operator lifts it. Reservations redeemed before this heartbeat end now, as its
    population includes those players; then the realm's login queue advances.
    """
    now = now or timezone.now()
    _heartbeat_validate(population=population, status=status, zone_populations=zone_populations)
    with transaction.atomic():
        shard = Shard.objects.select_for_update().filter(name=shard_name).first()
        if shard is None:
            shard = _shard_register(
                shard_name=shard_name, realm_slug=realm_slug, region=region, now=now
            )
        reported = status or shard.status
        shard.status = shard.held_status or reported
        shard.population = population
        shard.last_heartbeat = now
        if version is not None:
            shard.version = version[:40]
        if zone_populations is not None:
            shard.zone_populations = zone_populations
        if capacity is not None:
            shard.capacity = max(1, capacity)
        if ws_url:
            shard.ws_url = ws_url
        if zones is not None:
            shard.zones = list(zones)
        shard.save()
        ShardReservation.objects.filter(shard=shard, redeemed_at__lte=now).delete()
        ShardReservation.objects.filter(
            shard=shard, redeemed_at__isnull=True, expires_at__lte=now
        ).delete()
    if LoginQueueEntry.objects.filter(realm_id=shard.realm_id, status=QueueStatus.WAITING).exists():
        login_queue_advance(realm=shard.realm, now=now)
    return shard


def shard_set_status(*, shard: Shard, status: str) -> Shard:
    """Operator action: drain, put in maintenance, or bring back online.

    Draining and maintenance are held against heartbeats; "online" lifts the hold (the shard
    still needs a fresh heartbeat to receive players).
    """
    if status not in ShardStatus.values:
        raise ValidationFailed(f"Unknown shard status {status!r}.", code="shard_status_invalid")
    with transaction.atomic():
        locked = Shard.objects.select_for_update().get(pk=shard.pk)
        locked.held_status = status if status in _HELD_STATUSES else ""
        locked.status = status
        locked.save(update_fields=["status", "held_status"])
    logger.info("shard %s set to %s by an operator", locked.name, status)
    if status == ShardStatus.ONLINE:
        login_queue_advance(realm=locked.realm)
    return locked


def _heartbeat_validate(
    *, population: int, status: str | None, zone_populations: dict[str, int] | None
) -> None:
    if not isinstance(population, int) or isinstance(population, bool) or population < 0:
        raise ValidationFailed("Population must be a whole number >= 0.", code="heartbeat_invalid")
    if status is not None and status not in ShardStatus.values:
        raise ValidationFailed(f"Unknown shard status {status!r}.", code="heartbeat_invalid")
    if zone_populations is not None and not all(
        isinstance(zone, str) and isinstance(count, int) and count >= 0
        for zone, count in zone_populations.items()
    ):
        raise ValidationFailed(
            "Zone populations must map zone ids to counts.", code="heartbeat_invalid"
        )


def _shard_register(
    *, shard_name: str, realm_slug: str | None, region: str | None, now: datetime
) -> Shard:
    if realm_slug is None:
        raise NotFound(f"Unknown shard {shard_name!r}; register it with its realm slug.")
    realm = Realm.objects.filter(slug=realm_slug).first()
    if realm is None:
        raise NotFound(f"Unknown realm {realm_slug!r}.")
    logger.info("shard %s registered for realm %s", shard_name, realm.slug)
    return Shard.objects.create(
        realm=realm, name=shard_name, region=region or realm.region, created_at=now
    )


# --- Entering the world ---------------------------------------------------------------------


@dataclass(frozen=True)
class JoinOutcome:
    """``status`` "ready": connect with ``ticket`` to ``ws_url``; "queued": poll again."""

    status: str
    realm: str
    character_id: int
    ticket: str | None = None
    ws_url: str | None = None
    shard: str | None = None
    expires_in: int | None = None
    queue_id: int | None = None
    position: int | None = None
    estimated_wait_seconds: int | None = None
    poll_after_seconds: int | None = None


def world_join(*, user: User, character_id: int, now: datetime | None = None) -> JoinOutcome:
    """Route ``user``'s character into its realm: a world ticket, or a place in the login queue.

    Re-posting for a queued character polls its place; a join for another character leaves the
    line. Raises NotFound (not the caller's character), Conflict (deleted), Unavailable (realm
    closed or no healthy shard), AccountRestricted.
    """
    account_assert_may_play(user)
    now = now or timezone.now()
    with transaction.atomic():
        character = character_get_owned(user=user, character_id=character_id)
        if character.deleted_at is not None:
            raise Conflict("Restore this character before playing it.", code="character_deleted")
        realm = Realm.objects.select_for_update().get(pk=character.realm_id)
        if not realm.is_open:
            raise Unavailable(f"{realm.name} is closed.", code="realm_closed")
        User.objects.select_for_update().filter(pk=user.pk).first()
        entry = _live_queue_entry(account_id=user.pk)
        if entry is not None and entry.character_id != character.pk:
            _queue_entry_leave(entry, now=now)
            entry = None
        login_queue_advance(realm=realm, now=now)
        if entry is not None:
            entry.refresh_from_db()
        shard = _held_shard(user=user, character=character, now=now)
        if shard is not None:
            if entry is not None:
                entry.status = QueueStatus.CLAIMED
                entry.finished_at = now
                entry.save(update_fields=["status", "finished_at"])
            return _world_ticket_issue(user=user, character=character, shard=shard, now=now)
        if entry is not None:
            return _queue_entry_touch(entry, now=now)
        if not realm_has_healthy_shard(realm=realm, zone=character.zone, now=now):
            raise Unavailable(
                f"{realm.name} is not accepting players right now; try again shortly.",
                code="realm_unavailable",
            )
        line_waiting = LoginQueueEntry.objects.filter(
            realm=realm, status=QueueStatus.WAITING
        ).exists()
        shard = (
            None
            if line_waiting
            else shard_pick_for_join(realm=realm, region=user.region, zone=character.zone, now=now)
        )
        if shard is None:
            return _queue_enqueue(user=user, character=character, realm=realm, now=now)
        return _world_ticket_issue(user=user, character=character, shard=shard, now=now)


def login_queue_poll(*, user: User, queue_id: int, now: datetime | None = None) -> JoinOutcome:
    """Poll a place in line (GET /queue/{id}); once admitted this returns the world ticket."""
    entry = LoginQueueEntry.objects.filter(pk=_as_int(queue_id), account_id=user.pk).first()
    if entry is None:
        raise NotFound("No such place in line.")
    if entry.status not in (QueueStatus.WAITING, QueueStatus.ADMITTED):
        raise Conflict(
            "This place in line has ended; join again to get a new one.", code="queue_closed"
        )
    return world_join(user=user, character_id=entry.character_id, now=now)


def login_queue_leave(*, user: User, queue_id: int, now: datetime | None = None) -> None:
    """The player gives up their place in line (POST /api/v1/queue/{id}/leave)."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            LoginQueueEntry.objects.select_for_update()
            .filter(pk=_as_int(queue_id), account_id=user.pk)
            .first()
        )
        if entry is None:
            raise NotFound("No such place in line.")
        if entry.status in (QueueStatus.WAITING, QueueStatus.ADMITTED):
            _queue_entry_leave(entry, now=now)
            realm = entry.realm
            transaction.on_commit(lambda: login_queue_advance(realm=realm))


def login_queue_leave_for_character(*, character_id: int, now: datetime | None = None) -> None:
    """A character was deleted: its place in line (if any) ends."""
    now = now or timezone.now()
    for entry in LoginQueueEntry.objects.filter(
        character_id=character_id, status__in=[QueueStatus.WAITING, QueueStatus.ADMITTED]
    ):
        _queue_entry_leave(entry, now=now)


def login_queue_advance(*, realm: Realm, now: datetime | None = None) -> int:
    """Admit players from the head of ``realm``'s line while shards have room; return how many.

    Strict FIFO: if the head cannot be placed (every shard hosting its zone is full), nobody
    behind it is admitted either. Waiting players who stopped polling and admitted players who
    did not claim their slot in time leave the line first. Called on each heartbeat, each poll
    and each join.
    """
    now = now or timezone.now()
    admitted = 0
    with transaction.atomic():
        Realm.objects.select_for_update().filter(pk=realm.pk).first()
        _queue_drop_stale(realm=realm, now=now)
        claim_until = now + timedelta(seconds=settings.LOGIN_QUEUE_CLAIM_SECONDS)
        while True:
            head = (
                LoginQueueEntry.objects.select_related("character")
                .filter(realm=realm, status=QueueStatus.WAITING)
                .order_by("pk")
                .first()
            )
            if head is None:
                break
            shard = shard_pick_for_join(
                realm=realm, region=head.region, zone=head.character.zone, now=now
            )
            if shard is None:
                break
            ShardReservation.objects.update_or_create(
                account_id=head.account_id,
                defaults={
                    "shard": shard,
                    "character_id": head.character_id,
                    "expires_at": claim_until,
                    "redeemed_at": None,
                    "created_at": now,
                },
            )
            head.status = QueueStatus.ADMITTED
            head.admitted_at = now
            head.admitted_shard = shard
            head.save(update_fields=["status", "admitted_at", "admitted_shard"])
            admitted += 1
    if admitted:
        logger.info("login queue of %s: admitted %d", realm.slug, admitted)
    return admitted


def _queue_drop_stale(*, realm: Realm, now: datetime) -> None:
    abandoned_before = now - timedelta(seconds=settings.LOGIN_QUEUE_ABANDON_SECONDS)
    LoginQueueEntry.objects.filter(
        realm=realm, status=QueueStatus.WAITING, last_seen_at__lt=abandoned_before
    ).update(status=QueueStatus.LEFT, finished_at=now)
    unclaimed_before = now - timedelta(seconds=settings.LOGIN_QUEUE_CLAIM_SECONDS)
    unclaimed = LoginQueueEntry.objects.filter(
        realm=realm, status=QueueStatus.ADMITTED, admitted_at__lte=unclaimed_before
    )
    for entry in unclaimed:
        _queue_entry_leave(entry, now=now)
    LoginQueueEntry.objects.filter(
        realm=realm, status=QueueStatus.WAITING, character__deleted_at__isnull=False
    ).update(status=QueueStatus.LEFT, finished_at=now)


def _live_queue_entry(*, account_id: int) -> LoginQueueEntry | None:
    return (
        LoginQueueEntry.objects.select_for_update()
        .filter(account_id=account_id, status__in=[QueueStatus.WAITING, QueueStatus.ADMITTED])
        .first()
    )


def _queue_entry_leave(entry: LoginQueueEntry, *, now: datetime) -> None:
    if entry.status == QueueStatus.ADMITTED:
        ShardReservation.objects.filter(
            account_id=entry.account_id, redeemed_at__isnull=True
        ).delete()
    entry.status = QueueStatus.LEFT
    entry.finished_at = now
    entry.save(update_fields=["status", "finished_at"])


def _queue_enqueue(*, user: User, character: Character, realm: Realm, now: datetime) -> JoinOutcome:
    entry = LoginQueueEntry.objects.create(
        realm=realm,
        account=user,
        character=character,
        region=user.region,
        enqueued_at=now,
        last_seen_at=now,
    )
    logger.info("account %s queued for %s (entry %s)", user.pk, realm.slug, entry.pk)
    return _queued_outcome(entry, realm=realm, now=now)


def _queue_entry_touch(entry: LoginQueueEntry, *, now: datetime) -> JoinOutcome:
    if entry.status == QueueStatus.ADMITTED:
        # Admitted, but the held slot's shard went down: back to the head of the line (the
        # entry keeps its place, as its primary key is the oldest waiting).
        ShardReservation.objects.filter(
            account_id=entry.account_id, redeemed_at__isnull=True
        ).delete()
        entry.status = QueueStatus.WAITING
        entry.admitted_at = None
        entry.admitted_shard = None
    entry.last_seen_at = now
    entry.save(update_fields=["status", "admitted_at", "admitted_shard", "last_seen_at"])
    return _queued_outcome(entry, realm=entry.realm, now=now)


def _queued_outcome(entry: LoginQueueEntry, *, realm: Realm, now: datetime) -> JoinOutcome:
    position = login_queue_position(entry)
    return JoinOutcome(
        status="queued",
        realm=realm.slug,
        character_id=entry.character_id,
        queue_id=entry.pk,
        position=position,
        estimated_wait_seconds=login_queue_estimated_wait(realm=realm, position=position, now=now),
        poll_after_seconds=settings.LOGIN_QUEUE_POLL_SECONDS,
    )


def _held_shard(*, user: User, character: Character, now: datetime) -> Shard | None:
    """The live shard of the character's realm on which the account already holds a slot or a
    character (connected, or within the reconnect grace), if it may take this character."""
    held_character_id: int | None
    reservation = reservation_live_for_account(account_id=user.pk, now=now)
    if reservation is not None:
        held_character_id, shard = reservation.character_id, reservation.shard
    else:
        session = WorldSession.objects.select_related("shard").filter(account_id=user.pk).first()
        if session is None or session.shard is None or not _session_held(session, now=now):
            return None
        held_character_id, shard = session.character_id, session.shard
    if not (
        shard.realm_id == character.realm_id
        and shard.heartbeat_is_fresh(now=now)
        and shard.hosts_zone(character.zone)
    ):
        return None
    if shard.status == ShardStatus.ONLINE:
        return shard
    # A draining shard keeps the players already in ("nobody new"): rejoining the character it
    # holds resumes the live entity with its newest state, where another shard would load the
    # last flush and take the character over.
    if shard.status == ShardStatus.DRAINING and held_character_id == character.pk:
        return shard
    return None


def _session_held(session: WorldSession, *, now: datetime) -> bool:
    """Connected, or dropped less than the reconnect grace ago (its shard still holds it)."""
    if session.is_connected:
        return True
    if session.connected_at is None or session.disconnected_at is None:
        return False
    grace = timedelta(seconds=settings.WORLD_RECONNECT_GRACE_SECONDS)
    return now - session.disconnected_at < grace


def _world_ticket_issue(
    *, user: User, character: Character, shard: Shard, now: datetime
) -> JoinOutcome:
    """Caller holds the realm and account locks."""
    session, _ = WorldSession.objects.select_for_update().get_or_create(account=user)
    session.epoch += 1
    session.character = character
    session.shard = shard
    session.connected_at = None
    session.disconnected_at = None
    session.updated_at = now
    session.save()
    epoch = session.epoch
    Character.objects.filter(pk=character.pk).update(session_epoch=epoch, last_played_at=now)
    ttl = settings.WORLD_TICKET_TTL_SECONDS
    ShardReservation.objects.update_or_create(
        account=user,
        defaults={
            "shard": shard,
            "character": character,
            "expires_at": now + timedelta(seconds=ttl),
            "redeemed_at": None,
            "created_at": now,
        },
    )
    payload = {
        "account_id": user.pk,
        "character_id": character.pk,
        "shard": shard.name,
        "realm": character.realm.slug,
        "session_epoch": epoch,
    }
    ticket = ticket_issue(purpose=WORLD_TICKET_PURPOSE, payload=payload, ttl_seconds=ttl)
    account_id, character_id = user.pk, character.pk
    transaction.on_commit(
        lambda: _send_takeover(account_id=account_id, epoch=epoch, character_id=character_id)
    )
    logger.info(
        "account %s enters %s as character %s (epoch %s)", user.pk, shard.name, character.pk, epoch
    )
    return JoinOutcome(
        status="ready",
        realm=character.realm.slug,
        character_id=character.pk,
        ticket=ticket,
        ws_url=shard.ws_url,
        shard=shard.name,
        expires_in=ttl,
    )


def _send_takeover(*, account_id: int, epoch: int, character_id: int) -> None:
    """Tell every gateway connection of the account that sessions older than ``epoch`` end."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    message = {"type": "session.takeover", "epoch": epoch, "character_id": character_id}
    try:
        async_to_sync(channel_layer.group_send)(account_group_name(account_id), message)
    except Exception:
        # The ticket is already issued; a gateway that misses this still refuses the old epoch
        # on its next check (world_session_is_current). Never fail the join over it.
        logger.exception("could not send session takeover for account %s", account_id)


# --- Gateway side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldEntry:
    """A redeemed world ticket: who enters, as which character, on which shard."""

    account_id: int
    character_id: int
    shard: str
    realm: str
    session_epoch: int


def world_ticket_redeem(
    *, ticket: str, shard_name: str | None = None, now: datetime | None = None
) -> WorldEntry | None:
    """Consume a world ticket at the gateway; None if it is unknown, used, expired, for another
    shard, superseded by a newer join, or the character is no longer the account's to play.

    Marks the session connected and the held slot redeemed (it ends at the next heartbeat).
    """
    payload = ticket_consume(purpose=WORLD_TICKET_PURPOSE, ticket=ticket)
    if payload is None:
        return None
    entry = _world_entry_from_payload(payload)
    if entry is None or (shard_name is not None and entry.shard != shard_name):
        return None
    now = now or timezone.now()
    with transaction.atomic():
        session = (
            WorldSession.objects.select_for_update()
            .filter(account_id=entry.account_id, epoch=entry.session_epoch)
            .first()
        )
        if session is None:
            return None
        character = (
            Character.objects.select_related("account")
            .filter(pk=entry.character_id, account_id=entry.account_id, purged_at__isnull=True)
            .first()
        )
        if character is None or character.deleted_at is not None:
            return None
        account = character.account
        if not account.is_active or account.standing_refusal(now=now) is not None:
            return None
        session.connected_at = now
        session.disconnected_at = None
        session.updated_at = now
        session.save(update_fields=["connected_at", "disconnected_at", "updated_at"])
        ShardReservation.objects.filter(
            account_id=entry.account_id, shard__name=entry.shard
        ).update(redeemed_at=now)
    return entry


def world_session_disconnected(*, account_id: int, epoch: int, now: datetime | None = None) -> bool:
    """The gateway closed the connection of ``epoch``; True if that was the current session
    (an older, taken-over epoch changes nothing)."""
    now = now or timezone.now()
    updated = WorldSession.objects.filter(account_id=account_id, epoch=epoch).update(
        disconnected_at=now, updated_at=now
    )
    return updated > 0


def _world_entry_from_payload(payload: dict[str, Any]) -> WorldEntry | None:
    try:
        return WorldEntry(
            account_id=int(payload["account_id"]),
            character_id=int(payload["character_id"]),
            shard=str(payload["shard"]),
            realm=str(payload["realm"]),
            session_epoch=int(payload["session_epoch"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


# --- Housekeeping ------------------------------------------------------------------------------

FINISHED_QUEUE_ENTRY_RETENTION = timedelta(days=1)


def world_routing_housekeeping(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic upkeep (Celery beat, every ~30 s): end expired slot holds, advance every realm
    with people waiting (in case no heartbeat does), and delete finished queue places older than
    a day (the wait estimate only reads the last ``LOGIN_QUEUE_RATE_WINDOW_SECONDS``)."""
    now = now or timezone.now()
    expired, _ = ShardReservation.objects.filter(
        redeemed_at__isnull=True, expires_at__lte=now
    ).delete()
    admitted = 0
    realm_ids = (
        LoginQueueEntry.objects.filter(status=QueueStatus.WAITING)
        .values_list("realm_id", flat=True)
        .distinct()
    )
    for realm in Realm.objects.filter(pk__in=list(realm_ids)).order_by("pk"):
        admitted += login_queue_advance(realm=realm, now=now)
    pruned, _ = LoginQueueEntry.objects.filter(
        status__in=[QueueStatus.CLAIMED, QueueStatus.LEFT],
        finished_at__lt=now - FINISHED_QUEUE_ENTRY_RETENTION,
    ).delete()
    return {"reservations_expired": expired, "admitted": admitted, "queue_entries_pruned": pruned}
