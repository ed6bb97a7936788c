"""``ShardSim``: the authoritative simulation of the zones one shard process owns.

Adapters (gateway consumer, shard runner) drive it like this::

    zones = load_zone_dir(Path("content/zones"))
    sim = ShardSim(zones, SimConfig(), owned_zones={"town", "field"})
    entity_id = sim.add_player("conn-1", PlayerState(...), encoding="json", now=t)
    send(encode_frame(sim.welcome("conn-1"), "json"))       # then tick frames follow
    sim.submit("conn-1", decode_client_frame(raw, "json"))  # any time; applied next tick
    out = sim.tick(now)                                     # every 1/tick_hz seconds
    for conn_id, data in out.frames.items(): send(data)      # <= 1 frame per client per tick
    for transfer in out.transfers: hand_off(transfer)        # zone owned by another shard
    for report in out.suspects: log_or_kick(report)
    states = sim.drain_dirty()                              # periodically, batch-save them
    final = sim.remove_player("conn-1")                     # on disconnect: save it

Determinism: the sim reads no clock and no randomness; ``now`` (seconds, any monotonic origin)
is passed to ``add_player`` and ``tick``. Same calls in the same order give the same frames.

Concurrency: not thread-safe; call it from one thread (the shard's tick loop), adapters queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from worlds.sim.aoi import InterestDelta, select, sort_by_slot
from worlds.sim.codec import MAX_FRAME_BYTES, PROTOCOL_VERSION
from worlds.sim.config import SimConfig
from worlds.sim.entities import ChatRecord, Player, PlayerState, SuspicionReport
from worlds.sim.frames import (
    ENCODINGS,
    ClientExtras,
    Fragment,
    FrameBatch,
    RowBlocks,
    UpdateTable,
    _digits,
    _row_index,
    assemble_json_frames,
    assemble_msgpack_frames,
    json_tick_frame,
    msgpack_tick_frame,
    take_rows,
    welcome_frame,
)
from worlds.sim.intents import (
    ChatIntent,
    EmoteIntent,
    FaceIntent,
    MoveIntent,
    PingIntent,
    StopIntent,
)
from worlds.sim.movement import REASON_NAMES
from worlds.sim.zone import ZoneSim
from worlds.sim.zonemap import DEFAULT_SPAWN_ID, Portal, ZoneMap

IntArray = npt.NDArray[np.signedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]


class SimError(Exception):
    """Misuse of the sim API by an adapter (a bug there, not bad client input)."""


class UnknownConnection(SimError, KeyError):
    pass


class DuplicatePlayer(SimError):
    pass


class ZoneNotOwned(SimError):
    pass


@dataclass(frozen=True)
class ZoneTransfer:
    """A player walked into a portal to a zone another shard owns. The sim has already removed
    the player (as ``remove_player`` would); ``state`` is positioned at the arrival spawn point
    in ``state.zone``. The adapter saves it and hands the connection to the owning shard."""

    conn_id: str
    entity_id: int
    state: PlayerState
    from_zone: str
    portal_id: str
    to_spawn: str


@dataclass
class TickOutput:
    tick: int
    now: float
    frames: FrameBatch  # conn_id -> encoded tick frame (JSON text bytes or msgpack); a Mapping
    transfers: list[ZoneTransfer] = field(default_factory=list)
    suspects: list[SuspicionReport] = field(default_factory=list)
    chat: list[ChatRecord] = field(default_factory=list)  # accepted lines, for history
    dirty_count: int = 0  # characters with unsaved durable changes (see drain_dirty)


@dataclass
class _FrameLists:
    """This tick's upd / enter / leave pairs of one zone, each sorted by viewer slot."""

    upd_viewer: IntArray
    upd_entity: IntArray
    upd_count: IntArray  # per viewer slot
    enter_viewer: IntArray
    enter_entity: IntArray
    enter_count: IntArray
    leave_viewer: IntArray
    leave_id: IntArray  # entity ids (the entity may have left the zone already)
    leave_count: IntArray

    @classmethod
    def collect(cls, zone: ZoneSim, delta: InterestDelta) -> _FrameLists:
        """Lists in client order (``InterestSet.client_order``), the order of the pairs."""
        interest = zone.interest
        capacity = zone.capacity
        _, rank = interest.client_order(capacity)
        moved = zone.moved
        # upd: visible entities that moved, plus entering ones (their position comes in upd).
        selected = interest.visible & moved[interest.entity]
        upd_viewer, upd_entity = select(selected, interest.viewer, interest.entity)
        entering_still = ~moved[delta.enter_entity]
        if entering_still.any():
            upd_viewer = np.concatenate([upd_viewer, delta.enter_viewer[entering_still]])
            upd_entity = np.concatenate([upd_entity, delta.enter_entity[entering_still]])
            upd_order = sort_by_slot(rank[upd_viewer])
            upd_viewer = upd_viewer[upd_order]
            upd_entity = upd_entity[upd_order]
        enter_order = sort_by_slot(rank[delta.enter_viewer])
        leave_order = sort_by_slot(rank[delta.leave_viewer])
        return cls(
            upd_viewer=upd_viewer,
            upd_entity=upd_entity,
            upd_count=np.bincount(upd_viewer, minlength=capacity),
            enter_viewer=delta.enter_viewer[enter_order],
            enter_entity=delta.enter_entity[enter_order],
            enter_count=np.bincount(delta.enter_viewer, minlength=capacity),
            leave_viewer=delta.leave_viewer[leave_order],
            leave_id=zone.entity_ids[delta.leave_entity[leave_order]],
            leave_count=np.bincount(delta.leave_viewer, minlength=capacity),
        )


@dataclass
class _AreaEvent:
    """An event for everyone who sees ``speaker`` (and the speaker), resolved after AOI."""

    zone: ZoneSim
    speaker: Player
    fragment: Fragment


class ShardSim:
    """All zones of one shard. See the module docstring for the adapter's view."""

    def __init__(
        self,
        zone_maps: dict[str, ZoneMap],
        config: SimConfig | None = None,
        *,
        owned_zones: Iterable[str] | None = None,
        first_entity_id: int = 1,
    ) -> None:
        self.config = config or SimConfig()
        self.zone_maps = dict(zone_maps)
        owned = set(zone_maps) if owned_zones is None else set(owned_zones)
        unknown = owned - set(zone_maps)
        if unknown:
            raise ZoneNotOwned(f"owned zones without a map: {sorted(unknown)}")
        dangling = sorted(
            f"{zone_id}:{portal.id}->{portal.to_zone}"
            for zone_id in owned
            for portal in zone_maps[zone_id].portals
            if portal.to_zone not in zone_maps
            or portal.to_spawn not in zone_maps[portal.to_zone].spawn_points
        )
        if dangling:
            # Pass every zone's map (load_zone_dir), not only the owned ones: hand-offs need
            # the arrival spawn point of zones other shards run.
            raise SimError(f"portals lead to zones or spawn points without a map: {dangling}")
        self.zones = {
            zone_id: ZoneSim(zone_maps[zone_id], self.config) for zone_id in sorted(owned)
        }
        self.tick_number = 0
        self.now = 0.0
        self._next_entity_id = first_entity_id
        self._players: dict[str, Player] = {}
        self._by_character: dict[int, Player] = {}
        self._slow: list[tuple[Player, Any]] = []
        self._extras: dict[Player, ClientExtras] = {}
        self._area_events: list[_AreaEvent] = []
        self._enter_cache: dict[Player, Fragment] = {}
        self._suspects: list[SuspicionReport] = []
        self._chat_log: list[ChatRecord] = []

    # -- players ---------------------------------------------------------------------------

    def add_player(
        self, conn_id: str, state: PlayerState, *, encoding: str = "json", now: float | None = None
    ) -> int:
        """Place a character in its zone; returns its entity id. A saved position that is not
        walkable any more (content changed) falls back to the zone's default spawn point."""
        if conn_id in self._players:
            raise DuplicatePlayer(f"connection {conn_id!r} already has a player")
        if state.character_id in self._by_character:
            raise DuplicatePlayer(
                f"character {state.character_id} is already in the world; use rebind()"
            )
        zone = self.zones.get(state.zone)
        if zone is None:
            raise ZoneNotOwned(f"zone {state.zone!r} is not simulated by this shard")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        player = Player(
            conn_id=conn_id, entity_id=self._next_entity_id, state=state, encoding=encoding
        )
        self._next_entity_id += 1
        x, y = state.x, state.y
        if not zone.map.is_walkable(x, y):
            spawn = zone.map.spawn_points[DEFAULT_SPAWN_ID]
            x, y = spawn.x, spawn.y
        player.last_heard = self.now if now is None else now
        zone.add_player(player, round(x, 2), round(y, 2), state.facing % 8, player.last_heard)
        self._players[conn_id] = player
        self._by_character[player.character_id] = player
        return player.entity_id

    def remove_player(self, conn_id: str) -> PlayerState:
        """Take the player out of the world (leave events go to its viewers next tick)."""
        player = self._player(conn_id)
        state = self._state_of(player)
        self.zones[player.zone_id].remove_player(player)
        self._forget(player)
        return state

    def snapshot_player(self, conn_id: str) -> PlayerState:
        return self._state_of(self._player(conn_id))

    def detach(self, conn_id: str) -> None:
        """The connection dropped but the character stays (reconnect grace): no frames."""
        player = self._player(conn_id)
        player.attached = False
        self.zones[player.zone_id].bind_client(player)

    def rebind(self, old_conn_id: str, new_conn_id: str, *, encoding: str = "json") -> int:
        """Resume (reconnect) or take over (second login) the same entity on a new connection.
        The new client starts with seq 0 and a new correction id (see ``welcome``) and gets
        every visible entity as ``enter`` in its next frame."""
        player = self._player(old_conn_id)
        if new_conn_id != old_conn_id and new_conn_id in self._players:
            raise DuplicatePlayer(f"connection {new_conn_id!r} already has a player")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        del self._players[old_conn_id]
        self._players[new_conn_id] = player
        self._extras.pop(player, None)
        player.conn_id = new_conn_id
        player.encoding = encoding
        player.attached = True
        player.last_seq = 0
        player.last_acked = 0
        # The score survives the reconnect (it decays on its own), but the kick already fired:
        # re-arm it, or a kicked cheater could come back within the grace and never be kicked.
        player.cheat.kicked = False
        zone = self.zones[player.zone_id]
        zone.bind_client(player)
        zone.reset_move_clock(player.slot, self.now)
        self._issue_correction(player, zone)
        zone.interest.forget_viewer(player.slot)
        return player.entity_id

    def welcome(self, conn_id: str) -> dict[str, Any]:
        """The ``welcome`` frame for this connection (encode with ``codec.encode_frame``)."""
        player = self._player(conn_id)
        zone = self.zones[player.zone_id]
        return welcome_frame(
            protocol_version=PROTOCOL_VERSION,
            tick_hz=self.config.tick_hz,
            tick=self.tick_number,
            you=self._you(player, zone),
            zone=zone.map.client_payload(),
            limits={
                "max_frame_bytes": MAX_FRAME_BYTES,
                "chat_max_length": self.config.chat_max_length,
                "max_speed": self.config.max_speed,
                "view_radius": self.config.view_radius,
                "emotes": sorted(self.config.emotes),
            },
        )

    def update_vitals(
        self, conn_id: str, *, max_hp: int | None = None, hp: int | None = None
    ) -> None:
        """Apply a change decided outside the sim (equipment, GM): viewers get it in ``chg`` and
        the client itself in ``you``; HP is clamped to the new maximum."""
        player = self._player(conn_id)
        zone = self.zones[player.zone_id]
        if max_hp is not None:
            player.max_hp = max(1, max_hp)
        new_hp = player.hp if hp is None else hp
        player.hp = max(0, min(new_hp, player.max_hp))
        zone.note_change(player.slot, hp=player.hp, mhp=player.max_hp)
        zone.durable_dirty[player.slot] = True

    def report_error(self, conn_id: str, code: str, message: str, seq: int | None) -> None:
        """Put an ``error`` event in this client's next frame (e.g. a frame the adapter could
        not decode); unknown connections are ignored."""
        player = self._players.get(conn_id)
        if player is not None:
            self._error(player, code, message, seq)
            if isinstance(seq, int) and seq > player.last_seq:
                player.last_seq = seq  # refused, but answered: ack covers it
                self._settle(player, seq)

    def _settle(self, player: Player, seq: int) -> None:
        """Count ``seq`` as processed in the next ``ack`` (the client stops replaying it)."""
        last = self.zones[player.zone_id].last_seq
        if seq > last[player.slot]:
            last[player.slot] = seq

    def has_player(self, conn_id: str) -> bool:
        return conn_id in self._players

    def player_count(self) -> int:
        return len(self._players)

    def cheat_counters(self, conn_id: str) -> dict[str, Any]:
        cheat = self._player(conn_id).cheat
        return {
            "violations": dict(cheat.violations),
            "score": cheat.decayed_score(self.now, self.config.suspicion_half_life),
            "stale_seq": cheat.stale_seq,
            "stale_moves": cheat.stale_moves,
        }

    def rtt_ms(self, conn_id: str) -> float | None:
        return self._player(conn_id).rtt

    def last_heard(self, conn_id: str) -> float:
        return self._player(conn_id).last_heard

    def visible_entity_ids(self, conn_id: str) -> set[int]:
        """Entity ids this client currently sees (diagnostics and tests)."""
        player = self._player(conn_id)
        zone = self.zones[player.zone_id]
        slots = zone.interest.visible_to(player.slot)
        return set(zone.entity_ids[slots].tolist())

    def drain_dirty(self) -> list[PlayerState]:
        """States of characters with durable changes since the last drain; clears the marks."""
        states: list[PlayerState] = []
        for zone in self.zones.values():
            slots = np.flatnonzero(zone.durable_dirty)
            zone.durable_dirty[slots] = False
            states.extend(self._state_of(zone.players[slot]) for slot in slots.tolist())
        return states

    # -- intents ---------------------------------------------------------------------------

    def submit(self, conn_id: str, intent: Any, now: float | None = None) -> bool:
        """Queue a decoded intent for the next tick. Returns False if it was dropped: unknown
        connection (already removed), seq not above the last one, or a move made before the
        client applied the latest correction. Unknown intent objects get an error event."""
        player = self._players.get(conn_id)
        if player is None:
            return False
        if now is not None:
            player.last_heard = now
        if intent.__class__ is MoveIntent:
            # The hot path (one per client per tick): the checks below, inlined.
            move_seq, _, _, _, cid = intent
            if not isinstance(move_seq, int) or move_seq <= player.last_seq:
                player.cheat.stale_seq += 1
                return False
            player.last_seq = move_seq
            if cid != player.cid:
                player.cheat.stale_moves += 1
                self._settle(player, move_seq)  # dropped, but answered: ack covers it
                return False
            tick = self.tick_number
            first = player.move_tick != tick
            player.move_tick = tick
            self.zones[player.zone_id].queue_move(player, intent, first)
            return True
        seq = getattr(intent, "seq", None)
        if not isinstance(seq, int) or seq <= player.last_seq:
            player.cheat.stale_seq += 1
            return False
        player.last_seq = seq
        self._slow.append((player, intent))
        return True

    # -- the tick --------------------------------------------------------------------------

    def tick(self, now: float) -> TickOutput:
        """Advance one fixed step: apply queued intents, move, update interest, build frames."""
        self.tick_number += 1
        self.now = now
        out = TickOutput(tick=self.tick_number, now=now, frames=FrameBatch())
        self._handle_slow_intents(now)
        for zone in list(self.zones.values()):
            self._handle_moves(zone, now, out)
        for zone in self.zones.values():
            delta = zone.update_interest(self.tick_number)
            self._deliver_area_events(zone)
            self._collect_changes(zone)
            self._build_frames(zone, delta, out)
        for zone in self.zones.values():
            zone.end_tick()
            out.dirty_count += int(np.count_nonzero(zone.durable_dirty))
        out.suspects, self._suspects = self._suspects, []
        out.chat, self._chat_log = self._chat_log, []
        self._extras = {}
        self._area_events = []
        return out

    def _handle_slow_intents(self, now: float) -> None:
        queue, self._slow = self._slow, []
        for player, intent in queue:
            if self._players.get(player.conn_id) is not player:
                continue  # removed (or transferred) since it was queued
            zone = self.zones[player.zone_id]
            if intent.seq > zone.last_seq[player.slot]:
                zone.last_seq[player.slot] = intent.seq
            kind = intent.__class__
            if kind is StopIntent:
                zone.set_walking(player.slot, False)
            elif kind is FaceIntent:
                zone.set_facing(player.slot, intent.facing)
            elif kind is ChatIntent:
                self._chat(player, zone, intent, now)
            elif kind is EmoteIntent:
                self._emote(player, zone, intent)
            elif kind is PingIntent:
                self._ping(player, intent, now)
            else:
                self._error(player, "unknown_intent", f"unknown intent {kind.__name__}", intent.seq)

    def _chat(self, player: Player, zone: ZoneSim, intent: ChatIntent, now: float) -> None:
        text = intent.text[: self.config.chat_max_length]
        self._chat_log.append(
            ChatRecord(player.character_id, player.zone_id, intent.channel, text, now)
        )
        fragment = Fragment(
            {
                "e": "chat",
                "ch": intent.channel,
                "from": player.entity_id,
                "name": player.name,
                "text": text,
            }
        )
        if intent.channel == "zone":
            for other in zone.players.values():
                self._extras_of(other).events.append(fragment)
        else:
            self._area_events.append(_AreaEvent(zone, player, fragment))

    def _emote(self, player: Player, zone: ZoneSim, intent: EmoteIntent) -> None:
        if intent.emote not in self.config.emotes:
            self._error(player, "unknown_emote", f"unknown emote '{intent.emote}'", intent.seq)
            return
        fragment = Fragment({"e": "emote", "from": player.entity_id, "emote": intent.emote})
        self._area_events.append(_AreaEvent(zone, player, fragment))

    def _ping(self, player: Player, intent: PingIntent, now: float) -> None:
        now_ms = round(now * 1000.0, 3)
        if intent.echo is not None and intent.held is not None:
            rtt = now_ms - intent.echo - intent.held
            if 0.0 <= rtt <= 60_000.0:
                player.rtt = rtt
        self._extras_of(player).events.append(
            Fragment({"e": "pong", "ct": intent.ct, "st": now_ms})
        )

    def _error(self, player: Player, code: str, message: str, seq: int | None) -> None:
        event: dict[str, Any] = {"e": "error", "code": code, "msg": message}
        if seq is not None:
            event["seq"] = seq
        self._extras_of(player).events.append(Fragment(event))

    def _handle_moves(self, zone: ZoneSim, now: float, out: TickOutput) -> None:
        outcome = zone.process_moves(now)
        for player, reason in outcome.rejected:
            self._record_violation(player, REASON_NAMES[reason], now)
            self._issue_correction(player, zone)
        for player, portal in outcome.portals:
            self._enter_portal(player, zone, portal, now, out)

    def _record_violation(self, player: Player, reason: str, now: float) -> None:
        config = self.config
        cheat = player.cheat
        score = cheat.add(reason, config.suspicion_weights[reason], now, config.suspicion_half_life)
        action = None
        if score >= config.suspicion_kick_threshold and not cheat.kicked:
            cheat.kicked = True
            action = "kick"
        elif score >= config.suspicion_log_threshold and not cheat.logged:
            cheat.logged = True
            action = "log"
        elif score < config.suspicion_log_threshold / 2:
            cheat.logged = False
        if action is not None:
            self._suspects.append(
                SuspicionReport(
                    conn_id=player.conn_id,
                    character_id=player.character_id,
                    action=action,
                    score=score,
                    last_reason=reason,
                    violations=dict(cheat.violations),
                )
            )

    def _issue_correction(self, player: Player, zone: ZoneSim) -> None:
        player.cid += 1
        zone.set_correction(player.slot, player.cid)
        x, y, facing = zone.position(player.slot)
        self._extras_of(player).you = {"cor": player.cid, "x": x, "y": y, "f": facing}

    def _enter_portal(
        self, player: Player, zone: ZoneSim, portal: Portal, now: float, out: TickOutput
    ) -> None:
        target_map = self.zone_maps[portal.to_zone]
        spawn = target_map.spawn_points[portal.to_spawn]
        _, _, facing, _ = zone.remove_player(player)
        target = self.zones.get(portal.to_zone)
        if target is None:
            state = self._state_of(player, zone=portal.to_zone, x=spawn.x, y=spawn.y, facing=facing)
            self._forget(player)
            out.transfers.append(
                ZoneTransfer(
                    conn_id=player.conn_id,
                    entity_id=player.entity_id,
                    state=state,
                    from_zone=zone.map.id,
                    portal_id=portal.id,
                    to_spawn=portal.to_spawn,
                )
            )
            return
        target.add_player(player, spawn.x, spawn.y, facing, now)
        target.durable_dirty[player.slot] = True
        player.cid += 1
        target.set_correction(player.slot, player.cid)
        extras = self._extras_of(player)
        extras.you = None  # the zone event carries the new position and correction id
        extras.events.append(
            Fragment(
                {"e": "zone", "zone": target_map.client_payload(), **self._you(player, target)}
            )
        )

    def _deliver_area_events(self, zone: ZoneSim) -> None:
        events = [
            event
            for event in self._area_events
            # Not if the speaker left the zone during the tick.
            if event.zone is zone and zone.players.get(event.speaker.slot) is event.speaker
        ]
        if not events:
            return
        # The viewers of every speaker from one pass over the pairs (not one per event: in a
        # crowd that is 192 pairs per player), grouped by speaker in pair order.
        speakers = np.array([event.speaker.slot for event in events], np.int64)
        flags = np.zeros(zone.capacity, np.bool_)
        flags[speakers] = True
        viewer, entity = zone.interest.viewers_of(flags)
        order = np.argsort(entity, kind="stable")
        viewer, entity = viewer[order], entity[order]
        begins = np.searchsorted(entity, speakers, side="left").tolist()
        ends = np.searchsorted(entity, speakers, side="right").tolist()
        viewer_slots = viewer.tolist()
        players = zone.players
        for event, begin, end in zip(events, begins, ends, strict=True):
            self._extras_of(event.speaker).events.append(event.fragment)
            for slot in viewer_slots[begin:end]:
                self._extras_of(players[slot]).events.append(event.fragment)

    def _collect_changes(self, zone: ZoneSim) -> None:
        if not zone.changed_fields:
            return
        flags = np.zeros(zone.capacity, np.bool_)
        fragments: dict[int, Fragment] = {}
        for slot, fields in zone.changed_fields.items():
            player = zone.players[slot]
            self._enter_cache.pop(player, None)
            zone.enter_rows.forget(slot)
            fragment = Fragment({"id": player.entity_id, **fields})
            fragments[slot] = fragment
            flags[slot] = True
            self._extras_of(player).chg.append(fragment)
        viewers, entities = zone.interest.viewers_of(flags)
        for viewer, entity in zip(viewers.tolist(), entities.tolist(), strict=True):
            self._extras_of(zone.players[viewer]).chg.append(fragments[entity])

    # -- frames ----------------------------------------------------------------------------

    def _build_frames(self, zone: ZoneSim, delta: InterestDelta, out: TickOutput) -> None:
        """Every attached client of the zone with something new gets one frame.

        Most clients' frames hold only ``upd``/``enter``/``leave`` lists; those are assembled
        together with vector operations (``frames.assemble_*``). Clients with events, changes,
        corrections (and msgpack clients with enter/leave) are built one by one."""
        if not zone.players:
            return
        lists = _FrameLists.collect(zone, delta)
        receiving = zone.attached & zone.alive
        json_client = zone.json_client
        special = np.zeros(zone.capacity, np.bool_)
        for player in self._extras:
            if player.slot >= 0 and zone.players.get(player.slot) is player:
                special[player.slot] = True
        has_list = (lists.upd_count > 0) | (lists.enter_count > 0) | (lists.leave_count > 0)
        special |= ~json_client & ((lists.enter_count > 0) | (lists.leave_count > 0))
        special |= ~has_list & (zone.last_seq != zone.last_acked)
        special &= receiving
        plain = receiving & ~special & has_list
        self._fill_special_lists(zone, lists, special)

        json_plain = plain & json_client
        json_special = special & json_client
        if json_plain.any() or json_special.any():
            records = zone.json_records()
            if json_plain.any():
                self._plain_json_frames(zone, lists, records, json_plain, out)
            if json_special.any():
                self._special_frames(zone, "json", records, lists, json_special, out)
        msgpack_plain = plain & ~json_client
        msgpack_special = special & ~json_client
        if msgpack_plain.any() or msgpack_special.any():
            records = zone.renderer.msgpack_rows(zone.entity_ids, zone.xs, zone.ys, zone.facing)
            if msgpack_plain.any():
                slots = _in_client_order(zone, msgpack_plain)
                buffer, starts, ends = assemble_msgpack_frames(
                    tick=self.tick_number,
                    records=records,
                    acks=zone.last_seq[slots],
                    upd=RowBlocks(
                        rows=_rows_of(
                            lists.upd_entity, lists.upd_viewer, lists.upd_count, msgpack_plain
                        ),
                        per_client=lists.upd_count[slots],
                    ),
                )
                out.frames.add_buffer(buffer, zone.conn_ids[slots].tolist(), starts, ends)
            if msgpack_special.any():
                self._special_frames(zone, "msgpack", records, lists, msgpack_special, out)

    def _fill_special_lists(self, zone: ZoneSim, lists: _FrameLists, special: BoolArray) -> None:
        players = zone.players
        chosen = special[lists.enter_viewer]
        for viewer, entity in zip(
            lists.enter_viewer[chosen].tolist(), lists.enter_entity[chosen].tolist(), strict=True
        ):
            self._extras_of(players[viewer]).enter.append(self._enter_fragment(players[entity]))
        chosen = special[lists.leave_viewer]
        for viewer, entity_id in zip(
            lists.leave_viewer[chosen].tolist(), lists.leave_id[chosen].tolist(), strict=True
        ):
            self._extras_of(players[viewer]).leave.append(entity_id)

    def _plain_json_frames(
        self,
        zone: ZoneSim,
        lists: _FrameLists,
        records: npt.NDArray[np.uint8],
        plain: BoolArray,
        out: TickOutput,
    ) -> None:
        width = records.shape[1]
        slots = _in_client_order(zone, plain)
        # enter rows: each entering entity's fragment, padded to whole rows, once per tick.
        chosen = plain[lists.enter_viewer]
        enter_viewer = lists.enter_viewer[chosen]
        enter_entity = lists.enter_entity[chosen]
        entering = np.unique(enter_entity)
        players = zone.players
        enter_rows, rows_each = zone.enter_rows.rows(
            entering,
            width,
            lambda slot: b"," + self._enter_fragment(players[slot]).encoded("json"),
        )
        first_row = np.zeros(zone.capacity, np.int64)
        row_count = np.zeros(zone.capacity, np.int64)
        row_count[entering] = rows_each
        first_row[entering] = len(records) + np.cumsum(rows_each) - rows_each
        next_row = len(records) + int(rows_each.sum())
        # leave rows: ",<id>" right-aligned in a row.
        chosen = plain[lists.leave_viewer]
        leave_ids = lists.leave_id[chosen]
        leave_rows = np.empty((len(leave_ids), width), np.uint8)
        leave_rows[:, 0] = ord(",")
        leave_rows[:, 1:] = ord(" ")
        if len(leave_ids):
            id_width = len(str(int(leave_ids.max())))
            leave_rows[:, width - id_width :] = _digits(leave_ids, id_width)
        table = np.concatenate(
            [
                records,
                enter_rows,
                leave_rows,
            ]
        )
        entity_rows = row_count[enter_entity]
        buffer, starts, ends = assemble_json_frames(
            tick=self.tick_number,
            table=table,
            acks=zone.last_seq[slots],
            upd=RowBlocks(
                rows=_rows_of(lists.upd_entity, lists.upd_viewer, lists.upd_count, plain),
                per_client=lists.upd_count[slots],
            ),
            enter=RowBlocks(
                rows=_row_index(entity_rows, first_row[enter_entity]),
                per_client=np.bincount(
                    enter_viewer, weights=entity_rows, minlength=zone.capacity
                ).astype(np.int64)[slots],
            ),
            leave=RowBlocks(
                rows=next_row + np.arange(len(leave_ids)),
                per_client=lists.leave_count[slots],
            ),
        )
        out.frames.add_buffer(buffer, zone.conn_ids[slots].tolist(), starts, ends)

    def _special_frames(
        self,
        zone: ZoneSim,
        encoding: str,
        records: npt.NDArray[np.uint8],
        lists: _FrameLists,
        special: BoolArray,
        out: TickOutput,
    ) -> None:
        chosen = special[lists.upd_viewer]
        rows = take_rows(records, select(chosen, lists.upd_entity)[0])
        # The rows are in client order; each slot's range in them:
        order, _ = zone.interest.client_order(zone.capacity)
        counts = np.where(special, lists.upd_count, 0)
        ends = np.empty_like(counts)
        ends[order] = np.cumsum(counts[order])
        table = UpdateTable(
            blob=rows.tobytes(), record_size=records.shape[1], starts=ends - counts, ends=ends
        )
        build = json_tick_frame if encoding == "json" else msgpack_tick_frame
        tick = self.tick_number
        for slot in np.flatnonzero(special).tolist():
            player = zone.players[slot]
            frame = build(
                tick, int(zone.last_seq[slot]), table, slot, self._extras.get(player), True
            )
            if frame is not None:
                out.frames.add(player.conn_id, frame)

    def _enter_fragment(self, player: Player) -> Fragment:
        fragment = self._enter_cache.get(player)
        if fragment is None:
            fragment = Fragment(player.public_fields())
            self._enter_cache[player] = fragment
        return fragment

    # -- helpers ---------------------------------------------------------------------------

    def _player(self, conn_id: str) -> Player:
        player = self._players.get(conn_id)
        if player is None:
            raise UnknownConnection(conn_id)
        return player

    def _forget(self, player: Player) -> None:
        del self._players[player.conn_id]
        del self._by_character[player.character_id]
        self._extras.pop(player, None)
        self._enter_cache.pop(player, None)

    def _extras_of(self, player: Player) -> ClientExtras:
        extras = self._extras.get(player)
        if extras is None:
            extras = self._extras[player] = ClientExtras()
        return extras

    def _you(self, player: Player, zone: ZoneSim) -> dict[str, Any]:
        x, y, facing = zone.position(player.slot)
        return {
            "id": player.entity_id,
            "x": x,
            "y": y,
            "f": facing,
            "cor": player.cid,
            **{k: v for k, v in player.public_fields().items() if k not in ("id",)},
        }

    def _state_of(
        self,
        player: Player,
        *,
        zone: str | None = None,
        x: float | None = None,
        y: float | None = None,
        facing: int | None = None,
    ) -> PlayerState:
        if player.slot >= 0:
            current = self.zones[player.zone_id]
            px, py, pf = current.position(player.slot)
        else:
            px, py, pf = 0.0, 0.0, 0
        state = PlayerState(
            character_id=player.character_id,
            name=player.name,
            zone=player.zone_id,
            x=px,
            y=py,
            facing=pf,
            hp=player.hp,
            max_hp=player.max_hp,
            level=player.level,
            class_id=player.class_id,
            appearance=dict(player.appearance),
        )
        if zone is not None and x is not None and y is not None:
            state = replace(state, zone=zone, x=x, y=y, facing=pf if facing is None else facing)
        return state


def _in_client_order(zone: ZoneSim, chosen: BoolArray) -> IntArray:
    """The chosen slots in client order (the order of the frame lists)."""
    order, _ = zone.interest.client_order(zone.capacity)
    return order[chosen[order]]


def _rows_of(items: IntArray, viewers: IntArray, count: IntArray, chosen: BoolArray) -> IntArray:
    """The items whose viewer is chosen (all of them, without a pass, in the common case)."""
    if not count[~chosen].any():
        return items
    return items[chosen[viewers]]
