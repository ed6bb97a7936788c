"""A shard: the asyncio loop that drives one ``ShardSim`` (pure core) at a fixed tick rate.

Per tick: apply what the gateways sent (attach / intents / detach), advance the simulation,
encode each client's single coalesced frame, and hand every gateway one batch. Around the tick:
load characters when they attach, flush dirty state in batched writes every
``flush_interval`` seconds (and on logout, hand-off and shutdown), heartbeat the shard row for
routing, keep a dropped player's entity for a grace period so a reconnect resumes it.

The simulation is keyed by character (``"ch<id>"``), not by socket: a reconnect or a takeover
only re-points the key to a new connection; the in-world entity stays the same.

Database work runs in worker threads (``asyncio.to_thread``) so the loop never blocks on I/O;
at most one flush is in flight, and a flush that lags is reported rather than queued up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from mmo_platform import metrics
from worlds.runtime import persistence
from worlds.runtime.chat_history import ChatHistoryBuffer, ChatHistoryWrite
from worlds.runtime.frames import error_bytes
from worlds.runtime.messages import (
    Attach,
    Control,
    Detach,
    GatewayToShard,
    Intent,
    Refresh,
    ShardBatch,
    gateway_of,
)
from worlds.runtime.transport import ShardOutbox
from worlds.sim.codec import ProtocolError, decode_client_frame, encode_frame
from worlds.sim.config import SimConfig
from worlds.sim.entities import PlayerState, SuspicionReport
from worlds.sim.frames import FrameBatch, bye_frame
from worlds.sim.intents import ClientHello
from worlds.sim.world import ShardSim, ZoneTransfer
from worlds.sim.zonemap import ZoneMap

logger = logging.getLogger(__name__)
cheat_logger = logging.getLogger("mmo.cheat")

CLOSE_TAKEN_OVER = 4002
CLOSE_SHUTDOWN = 4005
CLOSE_KICKED = 4007
KEEPALIVE_SECONDS = 1.0
# A gateway process silent this long (its keepalives come every GATEWAY_KEEPALIVE_SECONDS) is
# taken for dead: no Detach will come for its connections, so their seats start the reconnect
# grace here, as if each socket had closed.
GATEWAY_SILENCE_LIMIT_SECONDS = 10.0


@dataclass(slots=True)
class Seat:
    """A character present in this shard, and the connection currently bound to it."""

    character_id: int
    account_id: int
    epoch: int
    conn_id: str | None
    encoding: str
    dropped_at: float | None = None
    name: str = ""  # for the chat history's sender name snapshot


@dataclass
class RunnerConfig:
    name: str
    realm: str
    tick_hz: int = 20
    flush_interval: float = 10.0
    chat_flush_interval: float = 1.0
    heartbeat_interval: float = 5.0
    reconnect_grace: float = 30.0
    capacity: int = 2000
    version: str = "dev"
    sim: SimConfig = field(default_factory=SimConfig)


class ShardRunner:
    def __init__(
        self,
        *,
        config: RunnerConfig,
        zone_maps: dict[str, ZoneMap],
        owned_zones: set[str],
        outbox: ShardOutbox,
        store: persistence.CharacterStore | None = None,
        chat_write: ChatHistoryWrite | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.owned_zones = owned_zones
        self.sim = ShardSim(zone_maps, config.sim, owned_zones=owned_zones)
        self.zone_maps = zone_maps
        self.outbox = outbox
        self.store = store or persistence.DjangoCharacterStore()
        self.chat_history = ChatHistoryBuffer(
            realm=config.realm,
            shard=config.name,
            write=chat_write,
            interval=config.chat_flush_interval,
        )
        self.inbox: deque[GatewayToShard] = deque()
        # Connections with an item in the inbox: their later intents queue behind it.
        self._held_conns: set[str] = set()
        self.seats: dict[str, Seat] = {}  # sim key -> seat
        self.key_by_conn: dict[str, str] = {}
        self.pending_controls: dict[str, list[Control]] = {}
        self.pending_welcomes: dict[str, list[tuple[str, bytes | str]]] = {}
        self.tick_count = 0
        self.tick_seconds_last = 0.0
        self._stopping = asyncio.Event()
        self._flush_task: asyncio.Task[None] | None = None
        # Every database write of this shard goes through this lock, so writes land in the order
        # they were made (a periodic flush can never overwrite a newer hand-off or logout save).
        self._db_lock = asyncio.Lock()
        # States drained from the sim but not yet written (a failed flush keeps them for the next).
        self._unsaved: dict[int, PlayerState] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._loading: set[asyncio.Task[None]] = set()
        self._last_keepalive: dict[str, float] = {}
        self._heard_from: dict[str, float] = {}  # gateway id -> time.monotonic() of its last batch

    # --- gateway input -----------------------------------------------------------------------

    def receive(self, gateway_id: str, items: list[GatewayToShard]) -> None:
        """Called by the transport (any time between ticks, same loop).

        Intents are decoded and queued in the sim at once, so the next tick only applies them
        (ADR 0053: off the tick's critical path). Anything else (attach, detach, refresh) waits
        in the inbox for the tick, and so does every later intent of the same connection, in
        arrival order. The gateway is not kept: every item names its connection, which names
        the gateway."""
        self._heard_from[gateway_id] = time.monotonic()
        if self._stopping.is_set():
            self.inbox.extend(items)
            return
        held = self._held_conns
        for item in items:
            if isinstance(item, Intent) and item.conn_id not in held:
                try:
                    self._apply_intent(item)
                except Exception:  # a bug in one intent must not stop the shard's listener
                    self._item_failed("intent", item.conn_id)
            else:
                self.inbox.append(item)
                held.add(item.conn_id)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._heartbeat_sync, "online", {})
        self._loop_task = asyncio.create_task(self._run(), name=f"shard-{self.name}")

    async def stop(self) -> None:
        """Graceful shutdown: stop ticking, tell every client, save everyone, mark offline."""
        self._stopping.set()
        if self._loop_task is not None:
            await self._loop_task
        bye = bye_frame("shutdown", "the world server is restarting; reconnect shortly")
        batches: dict[str, ShardBatch] = {}
        for seat in self.seats.values():
            if seat.conn_id is not None:
                batch = batches.setdefault(gateway_of(seat.conn_id), ShardBatch(self.name))
                payload = encode_frame(bye, seat.encoding)
                batch.controls.append(Control("close", seat.conn_id, CLOSE_SHUTDOWN, payload))
        await self.outbox.publish_many(batches)
        if self._flush_task is not None:
            await self._flush_task
        for key in list(self.seats):
            state = self.sim.remove_player(key)
            self._unsaved[state.character_id] = state
        self.seats.clear()
        await self._write_unsaved(logout=True)
        await self.chat_history.close()
        await asyncio.to_thread(self._heartbeat_sync, "offline", {})

    async def _run(self) -> None:
        period = 1.0 / self.config.tick_hz
        next_tick = time.monotonic()
        last_flush = last_heartbeat = last_gateway_check = next_tick
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.tick(started)
            except Exception:  # one bad tick must not stop the world; it is logged and counted
                logger.exception("shard %s: tick %s failed", self.name, self.tick_count)
                metrics.INTENTS_REJECTED.labels(reason="tick_failure").inc()
            now = time.monotonic()
            self.tick_seconds_last = now - started
            if now - last_flush >= self.config.flush_interval:
                last_flush = now
                self._start_flush()
            self.chat_history.maybe_flush(now)
            if now - last_gateway_check >= 1.0:
                last_gateway_check = now
                self.detach_silent_gateways(now)
            if now - last_heartbeat >= self.config.heartbeat_interval:
                last_heartbeat = now
                by_zone = self._population_by_zone()
                self._spawn(asyncio.to_thread(self._heartbeat_sync, None, by_zone))
            next_tick += period
            if next_tick < now:  # overrun: skip missed ticks instead of bursting to catch up
                next_tick = now
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    # --- the tick ----------------------------------------------------------------------------

    async def tick(self, now: float) -> None:
        with metrics.time_tick(self.name, 1.0 / self.config.tick_hz):
            self._apply_inbox(now)
            self._expire_dropped(now)
            output = self.sim.tick(now)
            batches = self._encode_frames(output.frames)
            self._prepend_welcomes(batches)
        self.tick_count += 1
        if output.chat:
            self.chat_history.add_records(output.chat, tick_now=now, sender_name=self._seat_name)
        metrics.FRAMES_OUT.labels(shard=self.name).inc(len(output.frames))
        metrics.BYTES_OUT.labels(shard=self.name).inc(output.frames.total_bytes())
        for transfer in output.transfers:
            self._spawn(self._hand_off(transfer))
        for report in output.suspects:
            self._handle_suspect(report)
        for gateway_id, controls in self.pending_controls.items():
            batches.setdefault(gateway_id, ShardBatch(self.name)).controls.extend(controls)
        self.pending_controls.clear()
        self._add_keepalives(batches, now)
        if batches:
            await self.outbox.publish_many(batches)

    def _encode_frames(self, frames: FrameBatch) -> dict[str, ShardBatch]:
        """Group the sim's already-encoded frames by gateway (one batch per gateway).

        Frames stay slices of the sim's tick buffers (``spans``): no per-frame copy here. They
        are only valid during this tick, which is fine: the batches are written (embedded) or
        packed (Redis) before ``tick`` returns.
        """
        batches: dict[str, ShardBatch] = {}
        seats = self.seats
        name = self.name
        for key, buffer, start, end in frames.spans():
            seat = seats.get(key)
            if seat is None or seat.conn_id is None:
                continue
            conn_id = seat.conn_id
            gateway_id = conn_id.partition("/")[0]  # gateway_of, inlined: once per frame
            batch = batches.get(gateway_id)
            if batch is None:
                batch = batches[gateway_id] = ShardBatch(name)
            batch.frames.append((conn_id, buffer[start:end]))
        return batches

    def _prepend_welcomes(self, batches: dict[str, ShardBatch]) -> None:
        for gateway_id, welcomes in self.pending_welcomes.items():
            batch = batches.get(gateway_id)
            if batch is None:
                batch = batches[gateway_id] = ShardBatch(self.name)
            batch.frames[:0] = welcomes
        self.pending_welcomes.clear()

    def _add_keepalives(self, batches: dict[str, ShardBatch], now: float) -> None:
        """Gateways treat a shard silent for seconds as dead; idle worlds still say so."""
        for seat in self.seats.values():
            if seat.conn_id is None:
                continue
            gateway_id = gateway_of(seat.conn_id)
            if gateway_id in batches:
                self._last_keepalive[gateway_id] = now
            elif now - self._last_keepalive.get(gateway_id, 0.0) >= KEEPALIVE_SECONDS:
                self._last_keepalive[gateway_id] = now
                batches[gateway_id] = ShardBatch(self.name)

    # --- inbox -------------------------------------------------------------------------------

    def _apply_inbox(self, now: float) -> None:
        inbox = self.inbox
        while inbox:
            item = inbox.popleft()
            try:
                self._apply_item(item, now)
            except Exception:  # one bad item must not cost every client this tick's frame
                self._item_failed(type(item).__name__, item.conn_id)
        self._held_conns.clear()

    def _item_failed(self, kind: str, conn_id: str) -> None:
        """Log (with the traceback being handled) and count an item that raised."""
        logger.exception("shard %s: %s from %s failed", self.name, kind, conn_id)
        metrics.INTENTS_REJECTED.labels(reason="intent_failure").inc()

    def _apply_item(self, item: GatewayToShard, now: float) -> None:
        if isinstance(item, Intent):
            self._apply_intent(item)
        elif isinstance(item, Attach):
            self._begin_attach(item)
        elif isinstance(item, Detach):
            self._detach(item, now)
        elif isinstance(item, Refresh):
            self._begin_refresh(item)

    def _apply_intent(self, item: Intent) -> None:
        key = self.key_by_conn.get(item.conn_id)
        seat = None if key is None else self.seats.get(key)
        if key is None or seat is None:
            return  # frames racing a close, a hand-off or an attach still loading: dropped
        try:
            intent = decode_client_frame(item.raw, seat.encoding)
        except ProtocolError as error:
            metrics.INTENTS_REJECTED.labels(reason=error.code).inc()
            if not error.fatal:
                self.sim.report_error(key, error.code, error.message, error.seq)
            elif seat.conn_id is not None:  # one standalone error frame, then the close
                self._queue_close(seat.conn_id, 4000, error.code, error.message, seat.encoding)
            return
        if isinstance(intent, ClientHello):
            self.sim.report_error(key, "unexpected_hello", "hello was already received", None)
            return
        self.sim.submit(key, intent, now=self.sim.now)

    def _begin_attach(self, item: Attach) -> None:
        key = f"ch{item.character_id}"
        seat = self.seats.get(key)
        if seat is not None:
            self._rebind(seat, item)
            return
        task = asyncio.get_running_loop().create_task(self._load_and_add(item))
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)

    def _rebind(self, seat: Seat, item: Attach) -> None:
        """Reconnect within the grace period, or a takeover: same entity, new socket."""
        if item.epoch < seat.epoch:
            self._queue_close(
                item.conn_id, CLOSE_TAKEN_OVER, "session_taken_over", "", item.encoding
            )
            return
        if seat.conn_id is not None and seat.conn_id != item.conn_id:
            self.key_by_conn.pop(seat.conn_id, None)
            self._queue_close(
                seat.conn_id, CLOSE_TAKEN_OVER, "session_taken_over", "", seat.encoding
            )
        key = f"ch{seat.character_id}"
        seat.conn_id, seat.encoding, seat.epoch, seat.dropped_at = (
            item.conn_id,
            item.encoding,
            item.epoch,
            None,
        )
        self.key_by_conn[item.conn_id] = key
        self.sim.rebind(key, key, encoding=item.encoding)
        self._send_welcome(key, seat)

    async def _load_and_add(self, item: Attach) -> None:
        try:
            # Behind this shard's pending writes: a logout save of the same character (its grace
            # just ended) must land before the reload claims the row, or it would be refused or
            # would end this shard's ownership of the reloaded copy.
            async with self._db_lock:
                state = await asyncio.to_thread(
                    self.store.load_for_entry,
                    character_id=item.character_id,
                    account_id=item.account_id,
                    owned_zones=self.owned_zones,
                    transfer_token=item.transfer_token,
                )
        except persistence.EntryRefused as refused:
            self._queue_close(item.conn_id, 4001, refused.code, refused.message, item.encoding)
            return
        key = f"ch{item.character_id}"
        if key in self.seats:  # a concurrent attach for the same character won the race
            self._rebind(self.seats[key], item)
            return
        seat = Seat(item.character_id, item.account_id, item.epoch, item.conn_id, item.encoding)
        seat.name = state.name
        self.seats[key] = seat
        self.key_by_conn[item.conn_id] = key
        self.sim.add_player(key, state, encoding=item.encoding, now=self.sim.now)
        self._send_welcome(key, seat)

    def _send_welcome(self, key: str, seat: Seat) -> None:
        assert seat.conn_id is not None
        payload = encode_frame({**self.sim.welcome(key), "shard": self.name}, seat.encoding)
        # Sent at the head of the next tick's batch, so no tick frame can overtake it.
        self.pending_welcomes.setdefault(gateway_of(seat.conn_id), []).append(
            (seat.conn_id, payload)
        )

    def _begin_refresh(self, item: Refresh) -> None:
        key = self.key_by_conn.get(item.conn_id)
        if key is not None:
            self._spawn(self._refresh(key, self.seats[key].character_id))

    async def _refresh(self, key: str, character_id: int) -> None:
        max_hp = await asyncio.to_thread(self.store.effective_max_hp, character_id=character_id)
        if self.sim.has_player(key):
            self.sim.update_vitals(key, max_hp=max_hp)

    def _detach(self, item: Detach, now: float) -> None:
        key = self.key_by_conn.pop(item.conn_id, None)
        if key is None:
            return
        seat = self.seats[key]
        if seat.conn_id == item.conn_id:
            self._seat_drop(key, seat, now)

    def _seat_drop(self, key: str, seat: Seat, now: float) -> None:
        """The seat's socket is gone: the character stays for the reconnect grace."""
        seat.conn_id, seat.dropped_at = None, now
        self.sim.detach(key)

    def detach_silent_gateways(self, now: float) -> None:
        """Seats bound to a gateway process that has gone silent (killed: no Detach will ever
        come) start their reconnect grace, as if each socket had closed. If the gateway was only
        slow, the close sent here tells its clients to join again (they resume within the
        grace)."""
        heard_since = time.monotonic() - GATEWAY_SILENCE_LIMIT_SECONDS
        silent = {
            gateway_id for gateway_id, heard in self._heard_from.items() if heard < heard_since
        }
        if not silent:
            return
        for gateway_id in silent:
            del self._heard_from[gateway_id]
        detached = 0
        for key, seat in self.seats.items():
            if seat.conn_id is None or gateway_of(seat.conn_id) not in silent:
                continue
            self.key_by_conn.pop(seat.conn_id, None)
            message = "The connection to the world server was lost; join again."
            self._queue_close(seat.conn_id, 4006, "shard_unavailable", message, seat.encoding)
            self._seat_drop(key, seat, now)
            detached += 1
        if detached:
            logger.warning(
                "shard %s: gateway(s) %s silent; %d player(s) start their reconnect grace",
                self.name,
                ", ".join(sorted(silent)),
                detached,
            )

    def _expire_dropped(self, now: float) -> None:
        grace = self.config.reconnect_grace
        expired = [
            key
            for key, seat in self.seats.items()
            if seat.dropped_at is not None and now - seat.dropped_at >= grace
        ]
        for key in expired:
            del self.seats[key]
            state = self.sim.remove_player(key)
            self._spawn(self._write_states([state], logout=True))

    def _seat_name(self, character_id: int) -> str:
        seat = self.seats.get(f"ch{character_id}")
        return seat.name if seat is not None else ""

    def _queue_close(
        self, conn_id: str, code: int, error: str, message: str = "", encoding: str = "json"
    ) -> None:
        text = message or error.replace("_", " ")
        payload = error_bytes(error, text, encoding=encoding)
        control = Control("close", conn_id, code, payload)
        self.pending_controls.setdefault(gateway_of(conn_id), []).append(control)

    def _handle_suspect(self, report: SuspicionReport) -> None:
        """AC-style escalation: log at the first threshold, disconnect at the second."""
        cheat_logger.warning(
            "shard=%s character=%s action=%s score=%.1f last=%s violations=%s",
            self.name,
            report.character_id,
            report.action,
            report.score,
            report.last_reason,
            report.violations,
        )
        seat = self.seats.get(report.conn_id)
        if report.action == "kick" and seat is not None and seat.conn_id is not None:
            kick = bye_frame("kicked", "disconnected: too many impossible moves")
            payload = encode_frame(kick, seat.encoding)
            control = Control("close", seat.conn_id, CLOSE_KICKED, payload)
            self.pending_controls.setdefault(gateway_of(seat.conn_id), []).append(control)

    # --- hand-off to another shard -----------------------------------------------------------

    async def _hand_off(self, transfer: ZoneTransfer) -> None:
        """Save the character into its new zone, then point its connection at the owner.

        The database row is the hand-off: the target shard admits the character only with the
        transfer token written here, so the character is never in two zones nor in none.
        """
        key = transfer.conn_id
        seat = self.seats.pop(key, None)
        if seat is None:
            return
        if seat.conn_id is not None:  # its intents are dropped from now on, not applied
            self.key_by_conn.pop(seat.conn_id, None)
        state = transfer.state
        try:
            async with self._db_lock:
                self._unsaved.pop(state.character_id, None)  # the hand-off writes the newest
                try:
                    target, token = await asyncio.to_thread(
                        self.store.hand_off,
                        state=state,
                        realm=self.config.realm,
                        from_shard=self.name,
                    )
                finally:
                    self.store.take_lost()  # a refused hand-off save: the seat is gone already
        except persistence.EntryRefused as refused:
            logger.warning("hand-off of %s failed: %s", key, refused.message)
            if seat.conn_id is not None:
                self._queue_close(seat.conn_id, 4006, refused.code, refused.message, seat.encoding)
            return
        if seat.conn_id is None:
            return
        control = Control(
            "transfer",
            seat.conn_id,
            shard=target,
            character_id=seat.character_id,
            transfer_token=token,
        )
        self.pending_controls.setdefault(gateway_of(seat.conn_id), []).append(control)

    # --- persistence -------------------------------------------------------------------------

    def _start_flush(self) -> None:
        if self._flush_task is not None and not self._flush_task.done():
            logger.warning("shard %s: previous flush still running; skipping this one", self.name)
            return
        for state in self.sim.drain_dirty():
            self._unsaved[state.character_id] = state
        if self._unsaved:
            self._flush_task = asyncio.get_running_loop().create_task(self._write_unsaved())

    async def flush_now(self) -> int:
        """Save every dirty character now (ops safety net); returns how many were pending."""
        for state in self.sim.drain_dirty():
            self._unsaved[state.character_id] = state
        pending = len(self._unsaved)
        await self._write_unsaved()
        return pending

    async def _write_unsaved(self, *, logout: bool = False) -> None:
        """Write every unsaved state in one batch; on failure keep them for the next flush."""
        async with self._db_lock:
            states, self._unsaved = self._unsaved, {}
            if not states:
                return
            try:
                await asyncio.to_thread(
                    self.store.save_states, list(states.values()), logout=logout
                )
            except Exception:
                logger.exception("shard %s: flush of %d characters failed", self.name, len(states))
                self._unsaved = {**states, **self._unsaved}
            self._drop_lost()

    async def _write_states(self, states: list[PlayerState], *, logout: bool) -> None:
        async with self._db_lock:
            for state in states:
                self._unsaved.pop(state.character_id, None)
            try:
                await asyncio.to_thread(self.store.save_states, states, logout=logout)
            except Exception:  # keep them for the next flush rather than lose the last state
                logger.exception("shard %s: save of %d characters failed", self.name, len(states))
                for state in states:
                    self._unsaved.setdefault(state.character_id, state)
            self._drop_lost()

    def _drop_lost(self) -> None:
        """Characters another shard has claimed since they entered here (a reconnect routed
        there while this shard held them in their grace period): their saves were refused, so
        this copy is dropped, unsaved, and a connection still bound to it is closed."""
        for character_id in self.store.take_lost():
            self._unsaved.pop(character_id, None)
            key = f"ch{character_id}"
            seat = self.seats.pop(key, None)
            if seat is None:
                continue
            self.sim.remove_player(key)
            logger.warning("shard %s: character %s is owned elsewhere now", self.name, key)
            if seat.conn_id is not None:
                self.key_by_conn.pop(seat.conn_id, None)
                message = "This character entered the world on another server."
                self._queue_close(
                    seat.conn_id, CLOSE_TAKEN_OVER, "session_taken_over", message, seat.encoding
                )

    def _heartbeat_sync(self, status: str | None, by_zone: dict[str, int]) -> None:
        """Runs in a worker thread, on figures taken in the loop (the sim is not thread-safe)."""
        for zone, count in by_zone.items():
            metrics.PLAYERS_ONLINE.labels(realm=self.config.realm, shard=self.name, zone=zone).set(
                count
            )
        self.store.heartbeat(
            shard=self.name,
            realm=self.config.realm,
            population=sum(by_zone.values()),
            status=status,
            version=self.config.version,
            zone_populations=by_zone,
        )

    def _population_by_zone(self) -> dict[str, int]:
        by_zone: dict[str, int] = dict.fromkeys(self.owned_zones, 0)
        for key in list(self.seats):
            if self.sim.has_player(key):
                zone = self.sim.snapshot_player(key).zone
                by_zone[zone] = by_zone.get(zone, 0) + 1
                rtt = self.sim.rtt_ms(key)
                if rtt is not None:
                    metrics.RTT_SECONDS.observe(rtt / 1000.0)
        return by_zone

    def _spawn(self, awaitable: object) -> None:
        task = asyncio.ensure_future(awaitable)  # type: ignore[call-overload]
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("shard background task failed", exc_info=task.exception())
