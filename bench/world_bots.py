"""One bot process of the end-to-end world benchmark (started by bench/world_load.py).

Runs ``--count`` ``mmo_client.WorldClient`` bots on one asyncio loop (uvloop). Each bot connects
with its world ticket, then sends a ``move`` every ``--move-ms`` (100 ms = 10 intents/s; one task
sends every bot's moves, in 5 ms slices),
walking back and forth 0.4 tiles inside its own tile (always walkable, 4 tiles/s, under the
6 tiles/s limit: every move is valid, so the server does its full work on it). Bots decode one
frame in ``--decode-every``; the ``ack`` of every frame is read from its prefix, so the input ->
ack round trip is measured on every intent.

Talks to the orchestrator over stdin/stdout, one JSON object per line:
``ready`` (all connected, pinging) -> "walk" (every process is ready: start moving) ->
"start" (open the window) -> "stop" (``result``) -> "quit".
Imports no Django: a bot needs only mmo_client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from mmo_client import WorldClient  # noqa: E402

STEP_TILES = 0.4
MIN_GAP_SECONDS = 0.09
SEND_SLICE_SECONDS = 0.005


class TimedClient(WorldClient):
    """Also notes when each ack arrived (``--timeline``: where in the window the slow ones are)."""

    timeline: list[tuple[float, float]] | None = None

    def _on_message(self, message: str | bytes) -> None:
        # A frame with a correction ("you") is always decoded, as any real client must apply
        # it: moves tagged with the old correction id would be dropped from then on. The
        # substring test runs at C speed and matches only such frames (and chat quoting "you").
        if self.welcome is not None and self.decode_every > 1:
            marker = '"you":' if isinstance(message, str) else b'"you":'
            if marker in message:  # type: ignore[operator]
                self.frames_received += 1
                self.bytes_received += len(message)
                raw = message.encode() if isinstance(message, str) else message
                self._on_frame(orjson.loads(raw))
                return
        super()._on_message(message)

    def _record_ack(self, ack: int) -> None:
        before = len(self.rtts)
        super()._record_ack(ack)
        if self.timeline is not None and len(self.rtts) > before:
            now = time.perf_counter()
            self.timeline.extend((now, rtt) for rtt in self.rtts[before:])


class Bot:
    def __init__(self, client: TimedClient) -> None:
        self.client = client
        self.cid = 0
        self.home_x = self.other_x = self.y = 0.0
        self.at_home = True
        self.sent = 0
        self.late = 0
        self.corrections = 0

    def on_welcome(self, welcome: dict[str, Any]) -> None:
        you = welcome["you"]
        self.cid = int(you.get("cor", 0))
        self.home_x, self.y = float(you["x"]), float(you["y"])
        # Stay inside the tile: step right if there is room, else left.
        right = round(self.home_x + STEP_TILES, 2)
        left = round(self.home_x - STEP_TILES, 2)
        self.other_x = right if math.floor(right) == math.floor(self.home_x) else left

    def on_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("t") == "welcome":
            return
        you = frame.get("you")
        if isinstance(you, dict) and "cor" in you:  # a correction (only seen in decoded frames)
            self.corrections += 1
            self.cid = int(you["cor"])
            self.on_welcome({"you": you})
            self.at_home = True


async def connect_all(
    entries: list[dict[str, Any]],
    base_ws: str,
    decode_every: int,
    concurrency: int,
    on_connected: Any,
) -> tuple[list[Bot], list[str]]:
    """Connect every bot; each pings every 5 s until told to walk (the gateway closes sockets
    that stay silent for 15 s, and connecting thousands takes longer than that)."""
    bots: list[Bot] = []
    failures: list[str] = []
    queue = list(entries)
    queue.reverse()

    async def worker() -> None:
        while queue:
            entry = queue.pop()
            url = entry["ws_url"]
            if url.startswith("/"):
                url = base_ws + url
            client = TimedClient(url, entry["ticket"], decode_every=decode_every)
            bot = Bot(client)
            client.on_frame = bot.on_frame
            try:
                welcome = await client.connect(timeout=60)
            except Exception as error:  # a failed join is reported, not fatal
                failures.append(f"{type(error).__name__}: {error}"[:200])
                continue
            bot.on_welcome(welcome)
            bots.append(bot)
            on_connected(bot)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return bots, failures


class Window:
    """What the orchestrator's measurement window sees."""

    def __init__(self) -> None:
        self.open = False
        self.started = 0.0
        self.lag_ms: list[float] = []


async def drive_all(
    bots: list[Bot], period: float, window: Window, stopping: asyncio.Event
) -> None:
    """Every bot sends a move each ``period``, phases spread over one period. One task wakes
    every ``SEND_SLICE_SECONDS`` and sends what is due: a thousand sleeping tasks would cost
    the bot process a timer and a task switch per move, CPU the server should have."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    due = [(start + random.uniform(0, period), index) for index in range(len(bots))]
    heapq.heapify(due)
    while due and not stopping.is_set():
        now = loop.time()
        while due and due[0][0] <= now:
            planned, index = heapq.heappop(due)
            bot = bots[index]
            if bot.client.closed is None and _send_move(bot, window):
                heapq.heappush(due, (_next_move_at(bot, planned, period, window, loop), index))
        await asyncio.sleep(SEND_SLICE_SECONDS)


def _send_move(bot: Bot, window: Window) -> bool:
    bot.at_home = not bot.at_home
    x = bot.home_x if bot.at_home else bot.other_x
    client_ms = round(time.perf_counter() * 1000.0, 1)
    try:
        bot.client.send_now("move", x=x, y=bot.y, ct=client_ms, cid=bot.cid)
    except Exception:
        return False  # the socket closed; counted via client.closed
    if window.open:
        bot.sent += 1
    return True


def _next_move_at(
    bot: Bot, planned: float, period: float, window: Window, loop: asyncio.AbstractEventLoop
) -> float:
    sent_at = loop.time()
    next_at = planned + period
    if next_at < sent_at - period:  # more than a period behind: the loop is saturated
        if window.open:
            bot.late += 1
        next_at = sent_at
    # Never two moves closer than 90 ms: a late loop catching up would otherwise move
    # 0.4 tiles in a few ms of client time, a speed violation (and a correction).
    return max(next_at, sent_at + MIN_GAP_SECONDS)


async def ping_until_cancelled(bot: Bot) -> None:
    with contextlib.suppress(Exception):
        while bot.client.closed is None:
            await asyncio.sleep(random.uniform(4.0, 5.0))
            await bot.client.send("ping", ct=round(time.perf_counter() * 1000.0, 1))


async def probe_lag(window: Window, stopping: asyncio.Event) -> None:
    """How late a 10 ms timer fires: the bot process's own saturation."""
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        planned = loop.time() + 0.01
        await asyncio.sleep(0.01)
        if window.open:
            window.lag_ms.append((loop.time() - planned) * 1000.0)


def _timeline(bots: list[Bot], started: float) -> list[list[float]]:
    """[100 ms bucket since the window opened, acks, max RTT ms] per bucket."""
    buckets: dict[int, list[float]] = {}
    for bot in bots:
        for at, rtt in bot.client.timeline or ():
            entry = buckets.setdefault(int((at - started) * 10), [0, 0.0])
            entry[0] += 1
            entry[1] = max(entry[1], rtt * 1000.0)
    return [[k, v[0], round(v[1], 1)] for k, v in sorted(buckets.items())]


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    lines = Path(args.tickets).read_text().splitlines()
    entries = [json.loads(line) for line in lines[args.start : args.start + args.count]]
    window = Window()
    stopping = asyncio.Event()
    period = args.move_ms / 1000.0
    tasks: list[asyncio.Task[None]] = []

    keepalives: list[asyncio.Task[None]] = []

    def keep_alive(bot: Bot) -> None:
        keepalives.append(asyncio.create_task(ping_until_cancelled(bot)))

    started = time.perf_counter()
    bots, failures = await connect_all(
        entries, args.base_ws, args.decode_every, args.concurrency, keep_alive
    )
    _emit(
        {
            "event": "ready",
            "connected": len(bots),
            "failed": len(failures),
            "failures": failures[:5],
            "connect_s": round(time.perf_counter() - started, 2),
        }
    )
    tasks.append(asyncio.create_task(probe_lag(window, stopping)))
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    frames0 = bytes0 = 0
    closed_before = 0
    while True:
        command = (await reader.readline()).decode().strip()
        if command == "walk":
            # Everyone starts walking once every bot process is connected: moves sent during
            # the join storm wait long in the server, and the move clock check then refuses
            # every later move as "time" (reported in docs/benchmarks.md).
            for task in keepalives:
                task.cancel()
            tasks.append(asyncio.create_task(drive_all(bots, period, window, stopping)))
        elif command == "start":
            for bot in bots:
                bot.client.rtts.clear()
                bot.sent = bot.late = 0
            frames0 = sum(bot.client.frames_received for bot in bots)
            bytes0 = sum(bot.client.bytes_received for bot in bots)
            closed_before = sum(1 for bot in bots if bot.client.closed is not None)
            window.lag_ms.clear()
            window.started = time.perf_counter()
            if args.timeline:
                for bot in bots:
                    bot.client.timeline = []
            window.open = True
        elif command == "stop":
            window.open = False
            rtts = [round(r * 1000.0, 2) for bot in bots for r in bot.client.rtts]
            closed = [bot.client.closed for bot in bots if bot.client.closed is not None]
            lag = sorted(window.lag_ms)
            _emit(
                {
                    "event": "result",
                    "bots": len(bots),
                    "sent": sum(bot.sent for bot in bots),
                    "late_sends": sum(bot.late for bot in bots),
                    "frames": sum(bot.client.frames_received for bot in bots) - frames0,
                    "bytes": sum(bot.client.bytes_received for bot in bots) - bytes0,
                    "rtts_ms": rtts,
                    "closed_in_window": len(closed) - closed_before,
                    "close_reasons": sorted({str(c)[:120] for c in closed})[:5],
                    "errors": sum(len(bot.client.errors) for bot in bots),
                    "error_samples": [e for bot in bots for e in bot.client.errors][:3],
                    "corrections": sum(bot.corrections for bot in bots),
                    "loop_lag_p99_ms": lag[int(len(lag) * 0.99)] if lag else None,
                    "loop_lag_max_ms": lag[-1] if lag else None,
                    "timeline": _timeline(bots, window.started) if args.timeline else None,
                }
            )
        elif command in ("quit", ""):
            break
    stopping.set()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            asyncio.gather(*(bot.client.close() for bot in bots), return_exceptions=True), 10
        )
    _emit({"event": "bye"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--base-ws", required=True, help="ws://host:port for relative ws_url")
    parser.add_argument("--decode-every", type=int, default=10)
    parser.add_argument("--move-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=20, help="connects in flight")
    parser.add_argument("--timeline", action="store_true", help="report RTT per 100 ms bucket")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
