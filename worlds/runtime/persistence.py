"""The shard's database side: load a character on entry, flush dirty state in batches, hand a
character off to the shard that owns its next zone, heartbeat the shard row.

Every function here is synchronous and runs in a worker thread (the shard loop calls it through
``asyncio.to_thread``), one at a time per shard, so writes land in the order they were made.

Stale writes are refused, not applied: each save is conditional on ``world_version`` being the
version this shard last read or wrote, and bumps it. Entering a shard bumps it too (the shard
claims the character), so the newest entry owns the row: a shard that lost a character
(hand-off, a reconnect routed elsewhere while it still held the character in its grace period,
or declared dead and replaced) can never overwrite newer state, and learns of the loss from
``take_lost`` so it drops its copy.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from characters.models import Character
from worlds.sim.world import PlayerState

logger = logging.getLogger(__name__)

HANDOFF_TTL_SECONDS = 60
HP_PER_STAMINA = 10


class EntryRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class CharacterStore(Protocol):
    def load_for_entry(
        self,
        *,
        character_id: int,
        account_id: int,
        owned_zones: set[str],
        transfer_token: str | None,
    ) -> PlayerState: ...

    def save_states(self, states: Iterable[PlayerState], *, logout: bool = False) -> int: ...

    def take_lost(self) -> list[int]: ...

    def effective_max_hp(self, *, character_id: int) -> int: ...

    def hand_off(self, *, state: PlayerState, realm: str, from_shard: str) -> tuple[str, str]: ...

    def heartbeat(
        self,
        *,
        shard: str,
        realm: str,
        population: int,
        status: str | None,
        version: str,
        zone_populations: dict[str, int],
    ) -> None: ...


class DjangoCharacterStore:
    """The store used by real shards (tests may pass an in-memory one to the runner)."""

    def __init__(self) -> None:
        self.versions: dict[int, int] = {}
        # Characters whose save was refused since the last take_lost(): another shard owns them.
        self._lost: list[int] = []
        # Loads run in worker threads beside the (serialised) saves: the bookkeeping is shared.
        self._bookkeeping = threading.Lock()

    def load_for_entry(
        self,
        *,
        character_id: int,
        account_id: int,
        owned_zones: set[str],
        transfer_token: str | None,
    ) -> PlayerState:
        with transaction.atomic():
            character = (
                Character.objects.select_for_update(of=("self",))
                .filter(pk=character_id, account_id=account_id, deleted_at__isnull=True)
                .select_related("realm")
                .first()
            )
            if character is None:
                raise EntryRefused(
                    "character_unavailable", "That character cannot enter the world."
                )
            if transfer_token is not None and not _consume_handoff(character_id, transfer_token):
                raise EntryRefused("handoff_invalid", "The zone hand-off expired; join again.")
            if character.zone not in owned_zones:
                raise EntryRefused(
                    "wrong_shard", "This server does not host that zone; join again."
                )
            # The claim: any shard still holding an older copy has its next save refused.
            claimed = character.world_version + 1
            Character.objects.filter(pk=character.pk).update(
                last_played_at=timezone.now(), world_version=claimed
            )
        with self._bookkeeping:
            # Two loads of one character (an attach re-sent while the first load ran) may
            # finish in either order: keep the newer claim, the one the row holds.
            self.versions[character.pk] = max(claimed, self.versions.get(character.pk, claimed))
            self._lost = [lost for lost in self._lost if lost != character.pk]
        state = state_from_character(character)
        max_hp = self.effective_max_hp(character_id=character.pk, base=character.max_hp)
        return replace(state, max_hp=max_hp, hp=min(state.hp, max_hp))

    def effective_max_hp(self, *, character_id: int, base: int | None = None) -> int:
        """Base maximum HP (the character row) plus equipment: each point of stamina adds
        ``HP_PER_STAMINA``. The row keeps the base; the world simulates the effective value."""
        from economy.selectors import equipment_stat_bonus

        if base is None:
            base = Character.objects.values_list("max_hp", flat=True).get(pk=character_id)
        stamina = equipment_stat_bonus(character_id=character_id).get("stamina", 0)
        return int(base) + HP_PER_STAMINA * int(stamina)

    def save_states(self, states: Iterable[PlayerState], *, logout: bool = False) -> int:
        """Write each state if this shard still owns it; returns how many rows were written."""
        states = list(states)
        # One row per character (the last state wins): two updates expecting the same version
        # would write once but bump the version twice, and every later save would be refused.
        latest = {s.character_id: s for s in states if s.character_id in self.versions}
        owned = list(latest.values())
        with transaction.atomic():
            written_ids = _update_rows(owned, self.versions, timezone.now()) if owned else set()
        with self._bookkeeping:
            for state in owned:
                if state.character_id in written_ids:
                    self.versions[state.character_id] += 1
                else:
                    logger.warning(
                        "save refused for character %s: another shard has claimed it since",
                        state.character_id,
                    )
                    self.versions.pop(state.character_id, None)
                    self._lost.append(state.character_id)
            for state in states if logout else ():
                self.versions.pop(state.character_id, None)
        for state in states if logout else ():
            self._left_world(state.character_id)
        return len(written_ids)

    def take_lost(self) -> list[int]:
        """The characters whose saves were refused since the last call (called by the shard
        loop after each save, under its write lock): the shard must drop its copies."""
        with self._bookkeeping:
            lost, self._lost = self._lost, []
        return lost

    def _left_world(self, character_id: int) -> None:
        """A player who leaves the world cannot stay in a trade (issue 4: cancelled on leave)."""
        from economy.services import trade_cancel_for_character

        try:
            trade_cancel_for_character(character_id, reason="left")
        except Exception:  # the save above is what matters; trades also expire on their own
            logger.exception("could not cancel trades of character %s", character_id)

    def hand_off(self, *, state: PlayerState, realm: str, from_shard: str) -> tuple[str, str]:
        """Persist the character in its new zone and name the shard that owns that zone."""
        from worlds.models import Realm, WorldSession
        from worlds.selectors import shard_pick_for_join

        realm_row = Realm.objects.get(slug=realm)
        target = shard_pick_for_join(realm=realm_row, region=realm_row.region, zone=state.zone)
        if target is None or target.name == from_shard:
            raise EntryRefused("zone_unavailable", f"No server hosts {state.zone} right now.")
        if not self.save_states([state], logout=True):
            raise EntryRefused("handoff_stale", "The character moved elsewhere meanwhile.")
        # Routing sends a rejoin to the shard holding the character: that is the target now.
        WorldSession.objects.filter(character_id=state.character_id).update(shard=target)
        token = secrets.token_urlsafe(16)
        cache.set(_handoff_key(state.character_id), token, timeout=HANDOFF_TTL_SECONDS)
        return target.name, token

    def heartbeat(
        self,
        *,
        shard: str,
        realm: str,
        population: int,
        status: str | None,
        version: str,
        zone_populations: dict[str, int],
    ) -> None:
        from worlds.services import shard_heartbeat

        shard_heartbeat(
            shard_name=shard,
            population=population,
            status=status,
            version=version,
            realm_slug=realm,
            zone_populations=zone_populations,
        )


def _update_rows(states: list[PlayerState], versions: dict[int, int], now: datetime) -> set[int]:
    """One conditional UPDATE per state, sent as a single batch; returns the ids written.

    Each row is written only if its ``world_version`` is still the one this shard holds (then
    bumped by one). PostgreSQL gets them as one ``executemany`` (psycopg pipelines it: one round
    trip; 500 rows took 138 ms as ORM updates, 3 ms so), reporting the rows written through
    ``RETURNING``. SQLite is in-process, so there it is a loop of the same statement.
    Equipment HP above the base maximum is not stored: the row keeps base values.
    """
    table = connection.ops.quote_name(Character._meta.db_table)
    smaller = "LEAST" if connection.vendor == "postgresql" else "MIN"
    # Only the quoted table name and a function name are interpolated; values are parameters.
    sql = (
        f"UPDATE {table} SET zone = %s, x = %s, y = %s, facing = %s, level = %s, "  # noqa: S608
        f"hp = {smaller}(%s, max_hp), last_saved_at = %s, world_version = %s "
        "WHERE id = %s AND world_version = %s"
    )
    saved_at = connection.ops.adapt_datetimefield_value(now)
    params = [
        (
            state.zone,
            state.x,
            state.y,
            radians_from_octant(state.facing),
            state.level,
            max(state.hp, 0),
            saved_at,
            versions[state.character_id] + 1,
            state.character_id,
            versions[state.character_id],
        )
        for state in states
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _executemany_returning_ids(cursor.cursor, sql + " RETURNING id", params)
        # The backend's own cursor, not Django's wrapper: with DEBUG (embedded's default) the
        # wrapper formats and logs every one of these statements.
        raw_cursor = cursor.cursor
        written: set[int] = set()
        for state, row in zip(states, params, strict=True):
            raw_cursor.execute(sql, row)
            if raw_cursor.rowcount:
                written.add(state.character_id)
        return written


def _executemany_returning_ids(raw_cursor: Any, sql: str, params: Sequence[object]) -> set[int]:
    """psycopg 3: one result set per statement of the batch, each holding the row it wrote."""
    written: set[int] = set()
    raw_cursor.executemany(sql, params, returning=True)
    while True:
        written.update(int(row[0]) for row in raw_cursor.fetchall())
        if not raw_cursor.nextset():
            return written


def shard_register(
    *,
    name: str,
    realm_slug: str | None,
    zones: list[str],
    capacity: int | None,
    region: str | None,
) -> tuple[str, list[str]]:
    """Create or update the shard row a shard process is about to serve."""
    from worlds.models import Realm, Shard

    shard = Shard.objects.select_related("realm").filter(name=name).first()
    if shard is None:
        if not realm_slug:
            raise EntryRefused("unknown_shard", f"Shard {name} is new: pass --realm.")
        realm = Realm.objects.get(slug=realm_slug)
        shard = Shard.objects.create(name=name, realm=realm, region=region or realm.region)
    changed: list[str] = []
    if zones and shard.zones != zones:
        shard.zones, changed = zones, [*changed, "zones"]
    if capacity and shard.capacity != capacity:
        shard.capacity, changed = capacity, [*changed, "capacity"]
    if region and shard.region != region:
        shard.region, changed = region, [*changed, "region"]
    if changed:
        shard.save(update_fields=changed)
    return shard.realm.slug, list(shard.zones or [])


def state_from_character(character: Character) -> PlayerState:
    return PlayerState(
        character_id=character.pk,
        name=character.name,
        zone=character.zone,
        x=character.x,
        y=character.y,
        facing=octant_from_radians(character.facing),
        hp=character.hp,
        max_hp=character.max_hp,
        level=character.level,
        class_id=character.class_id,
        appearance=dict(character.appearance or {}),
    )


def row_from_state(state: PlayerState) -> dict[str, object]:
    """The columns the world owns (HP separately; ``_update_rows`` writes the same columns).
    Resource, XP and the base maximum HP are not changed by the world yet, so never written."""
    return {
        "zone": state.zone,
        "x": state.x,
        "y": state.y,
        "facing": radians_from_octant(state.facing),
        "level": state.level,
    }


# The sim faces in octants (0 = north, clockwise, screen y grows southwards); the character row
# stores radians from east towards south (the same clockwise turn on screen).
def radians_from_octant(octant: int) -> float:
    return round(((octant - 2) % 8) * math.pi / 4, 6)


def octant_from_radians(radians: float) -> int:
    return (round(radians / (math.pi / 4)) + 2) % 8


def _handoff_key(character_id: int) -> str:
    return f"handoff:{character_id}"


def _consume_handoff(character_id: int, token: str) -> bool:
    expected = cache.get(_handoff_key(character_id))
    if expected is None or not secrets.compare_digest(str(expected), token):
        return False
    cache.delete(_handoff_key(character_id))
    return True
