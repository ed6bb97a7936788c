"""End-to-end world load: N bots against a real server, frames/s, input -> ack RTT, server CPU.

Per N (each on freshly started server processes): place N characters (bench/world_setup.py),
start the deployment, get one world ticket per character server-side, start ``--bot-procs`` bot
processes (bench/world_bots.py; each an asyncio loop of N/procs ``mmo_client.WorldClient`` with
``decode_every``), let them connect, warm up, then measure a window of ``--duration`` seconds:

- intents sent/s and acks/s (expected 10 N: one ``move`` per bot every 100 ms);
- frames delivered/s (bots' count) against 20 N and against what the shard produced
  (``mmo_frames_out`` from the shard's /metrics): a client gets a frame only in ticks where
  something it sees moved or its own ack advanced;
- input -> ack RTT p50/p95/p99/max over every intent of the window;
- server CPU (% of one core, from /proc: gateway + shard processes; Redis separately), RSS;
- bot CPU and the bots' own event-loop lag, tick time (``mmo_tick_duration_seconds``);
- the host: steal time, full GC collections (``mmo_gc_pause_seconds``), and the CPU speed probe
  (bench/speed_probe.py) before, after and once a second during the window, because this
  shared host's speed swings by up to 1.8x from one few-second phase to the next.

Every run is bounded (timeouts on every wait) and stops every process it started. Results are
appended to bench/results/world_load.jsonl (gitignored) and printed as a Markdown table row.

Deployments (``--deployment``):

- ``embedded``: one process, ``bench/world_app.py`` (``manage.py serve``'s uvicorn options,
  SQLite ``/tmp/bench_world.sqlite3``, in-process shard);
- ``production``: gateway (``manage.py serve`` = uvicorn, or ``--gateway daphne``) + ``--shards``
  ``manage.py runshard`` processes on Redis (db 7) and PostgreSQL ``bench_world``;
  ``--gateways N`` runs N uvicorn gateways on one port (``serve --reuse-port``, ADR 0053).

Scenarios (``--scenario``): ``aoi`` spreads players over open 448 x 448 zones at one player per
90 tiles (about 20 others within each one's view); ``crowd`` puts everyone within 11 tiles of one
point (everyone within view of everyone; the server caps each client's view at 96 entities).

Examples::

    .venv/bin/python bench/world_load.py --deployment embedded --players 100 250 500 1000 2000
    .venv/bin/python bench/world_load.py --deployment production --shards 2 --players 1000
    .venv/bin/python bench/world_load.py --deployment production --gateway daphne --players 500
    .venv/bin/python bench/world_load.py --deployment embedded --players 1000 \\
        --server-cpus 0 --bot-cpus 1
    .venv/bin/python bench/world_load.py --deployment embedded --logins 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RESULTS = ROOT / "bench" / "results"
CONTENT_DIR = Path("/tmp/bench_world_content")
SQLITE_PATH = Path("/tmp/bench_world.sqlite3")
PG_DATABASE = "bench_world"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/7"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M))
    return int(values.get("VmRSS", 0)) / 1024, int(values.get("VmHWM", 0)) / 1024


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def probe_summary(probes: list[float]) -> str:
    if not probes:
        return "-"
    ordered = sorted(probes)
    return f"median {ordered[len(ordered) // 2]} ms (range {ordered[0]}-{ordered[-1]})"


def machine_steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests while this one wanted it (all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return int(fields[7]) / CLOCK_TICKS


def wait_until_quiet(max_busy_pct: float, max_wait: float) -> float:
    """Wait (at most ``max_wait`` s) until the rest of the machine uses under ``max_busy_pct`` %
    of one core over 3 s (other helpers' test suites share these 2 cores). Returns that %."""
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(3)
        busy = (machine_busy_seconds() - before) / 3 * 100
        if busy <= max_busy_pct or time.monotonic() > deadline:
            return round(busy, 1)


def redis_pid() -> int | None:
    out = subprocess.run(["pidof", "redis-server"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


# Scheduling priority (``--nice``, ``--bot-nice``). With autogroup scheduling (the Linux default,
# /proc/sys/kernel/sched_autogroup_enabled) the CPU is shared between *sessions* first: a plain
# ``nice -n -10`` only ranks processes inside one session and does nothing against other users'
# test suites. So ``--nice`` sets the nice value of this run's session autogroup
# (/proc/self/autogroup, inherited by every server and bot process started here), and
# ``--bot-nice`` ranks the bots below the server inside it: bots stand in for remote clients, so
# they yield the shared cores to the server instead of competing with it.
BOT_NICE = 0
AUTOGROUP = Path("/proc/self/autogroup")


def autogroup_nice() -> int | None:
    """This session's autogroup nice value, or None without autogroup scheduling."""
    try:
        return int(AUTOGROUP.read_text().split("nice")[1])
    except (OSError, IndexError, ValueError):
        return None


def set_autogroup_nice(value: int) -> bool:
    """Set this session's autogroup nice (negative values need root); True if it took."""
    try:
        AUTOGROUP.write_text(str(value))
    except OSError as error:
        print(f"could not set the autogroup nice to {value}: {error}", file=sys.stderr)
        return False
    return autogroup_nice() == value


def pinned(command: list[str], cpus: str | None, nice: int = 0) -> list[str]:
    """``command`` under ``taskset -c cpus`` (if given) and ``nice -n nice`` (if set)."""
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    return ["nice", "-n", str(nice), *command] if nice else command


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_url: str | None = None


@dataclass
class Deployment:
    """How to start one server layout, and where its pieces are."""

    kind: str  # embedded | production
    gateway: str  # uvicorn | daphne
    shards: int
    scenario: str
    server_cpus: str | None
    tag: str
    port: int = 0
    gateways: int = 1  # uvicorn processes sharing the port (production)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[ServerProcess] = field(default_factory=list)

    def base_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "WORLD_TRANSPORT")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="bench.world_settings",
            BENCH_DEPLOYMENT=self.kind,
            BENCH_CONTENT_DIR=str(CONTENT_DIR),
            LOG_LEVEL="WARNING",
            WORLD_TICKET_TTL_SECONDS="600",
            PYTHONPATH=str(ROOT),
        )
        if self.kind == "embedded":
            env["DATABASE_URL"] = f"sqlite:///{SQLITE_PATH}"
        else:
            env.update(
                DATABASE_URL=PG_URL,
                REDIS_URL=REDIS_URL,
                WORLD_TRANSPORT="redis",
                SECRET_KEY=os.environ.get("BENCH_SECRET_KEY", "bench-" + secrets.token_hex(32)),
                SECURE_SSL_REDIRECT="false",
                CACHE_KEY_PREFIX="benchworld",
                ALLOWED_HOSTS="127.0.0.1,localhost",
            )
        return env

    def shard_rows(self) -> list[dict[str, Any]]:
        if self.kind == "embedded":
            return [{"name": "bench-e", "zones": [], "ws_url": "/ws/world/"}]
        ws_url = f"ws://127.0.0.1:{self.port}/ws/world/"
        if self.shards == 1:
            return [{"name": "bench-1", "zones": [], "ws_url": ws_url}]
        return [
            {
                "name": "bench-a",
                "zones": ["town", "field", "dungeon_entrance", "plains"],
                "ws_url": ws_url,
            },
            {"name": "bench-b", "zones": ["plains2"], "ws_url": ws_url},
        ]

    def start(self, players: int, tickets: Path, extra_env: dict[str, str]) -> None:
        env = {**self.env, **extra_env}
        if self.kind == "embedded":
            env.update(BENCH_PLAYERS=str(players), BENCH_TICKETS_OUT=str(tickets))
            command = [PYTHON, "bench/world_app.py", "--port", str(self.port)]
            self._spawn("server", command, env, f"http://127.0.0.1:{self.port}/metrics")
            return
        for row in self.shard_rows():
            metrics_port = free_port()
            command = [
                PYTHON, "manage.py", "runshard", row["name"],
                "--metrics-port", str(metrics_port),
            ]  # fmt: skip
            self._spawn(row["name"], command, env, f"http://127.0.0.1:{metrics_port}/metrics")
        if self.gateway == "daphne":
            command = [
                str(ROOT / ".venv" / "bin" / "daphne"), "-b", "127.0.0.1", "-p", str(self.port),
                "--verbosity", "0", "mmo_platform.asgi:application",
            ]  # fmt: skip
            self._spawn("gateway", command, env, None)
            return
        command = [
            PYTHON, "manage.py", "serve", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        if self.gateways > 1:
            command.append("--reuse-port")
        for number in range(1, self.gateways + 1):
            self._spawn("gateway" if number == 1 else f"gateway{number}", command, env, None)

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str], metrics: str | None
    ) -> None:
        log = RESULTS / f"{self.tag}_{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            pinned(command, self.server_cpus), cwd=ROOT, env=env, stdout=handle, stderr=handle
        )
        self.processes.append(ServerProcess(name, process, log, metrics))

    def pids(self) -> list[int]:
        return [server.process.pid for server in self.processes]

    def alive(self) -> bool:
        return all(server.process.poll() is None for server in self.processes)

    def stop(self, timeout: float = 90.0) -> dict[str, int | None]:
        """SIGTERM (save everyone), then SIGKILL whatever is still there after ``timeout``."""
        for server in self.processes:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for server in self.processes:
            try:
                codes[server.name] = server.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                server.process.kill()
                codes[server.name] = server.process.wait(10)
        self.processes.clear()
        return codes


def run_checked(command: list[str], env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def ensure_database(deployment: Deployment) -> None:
    if deployment.kind == "production":
        exists = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname='{PG_DATABASE}'"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        if exists != "1":
            run_checked(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", PG_DATABASE], deployment.env, 30
            )
    run_checked([PYTHON, "manage.py", "migrate", "--noinput"], deployment.env, 600)


def redis_flush_bench_db() -> None:
    """Our own Redis database only (tickets, cache, takeover groups of earlier runs)."""
    subprocess.run(["redis-cli", "-n", REDIS_URL.rsplit("/", 1)[1], "FLUSHDB"], timeout=10)


# --- metrics ---------------------------------------------------------------------------------

_SAMPLE = re.compile(
    r"^(mmo_frames_out_total|mmo_tick_duration_seconds_(?:sum|count)|mmo_tick_overruns_total"
    r"|mmo_bytes_out_total|mmo_gc_pause_seconds_(?:sum|count))\{([^}]*)\}\s+([0-9.eE+-]+)$",
    re.M,
)
_GENERATION = re.compile(r'generation="(\d)"')


def sample_key(name: str, labels: str) -> str:
    """Samples are summed over processes and label values, except per GC generation."""
    generation = _GENERATION.search(labels)
    return f"{name}:gen{generation.group(1)}" if generation else name


def scrape(deployment: Deployment) -> dict[str, float]:
    totals: dict[str, float] = {}
    for server in deployment.processes:
        if not server.metrics_url:
            continue
        try:
            with urllib.request.urlopen(server.metrics_url, timeout=30) as response:
                text = response.read().decode()
        except OSError:
            totals["scrape_failed"] = 1.0
            continue
        for name, labels, value in _SAMPLE.findall(text):
            key = sample_key(name, labels)
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def prime_http(deployment: Deployment) -> None:
    """Make the first HTTP request of each process before any bot connects.

    The first request to a fresh Django ASGI process resolves (imports) the URL configuration on
    the event loop's thread: 0.6-1 s during which that process does nothing else. Measured
    once, reported in docs/benchmarks.md; it must not land inside a measured window.
    """
    with contextlib.suppress(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/healthz", timeout=30).read()
    scrape(deployment)


# --- one run ---------------------------------------------------------------------------------


def _rounded(value: float, digits: int = 0) -> float | None:
    if math.isnan(value):
        return None
    return round(value) if digits == 0 else round(value, digits)


def percentile(ordered: list[float], percent: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(percent / 100 * len(ordered)) - 1))
    return ordered[index]


async def probe_host_speed(duration: float) -> list[float]:
    """Wait ``duration`` s, timing a short fixed loop once a second meanwhile (about 3 ms of
    CPU each): this host's speed changes within a window, and this says how much."""
    from bench.speed_probe import speed_probe_ms

    probes: list[float] = []
    deadline = time.monotonic() + duration
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, left))
        if deadline - time.monotonic() > 0.05:
            probes.append(round(speed_probe_ms(iterations=100_000) * 10, 1))
    return probes


async def read_event(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("bot process ended early")
        with contextlib.suppress(json.JSONDecodeError):
            event: dict[str, Any] = json.loads(line)
            return event


async def tell(process: asyncio.subprocess.Process, command: str) -> None:
    assert process.stdin is not None
    process.stdin.write(command.encode() + b"\n")
    await process.stdin.drain()


async def measure(
    deployment: Deployment, players: int, tickets: Path, args: argparse.Namespace
) -> dict[str, Any]:
    procs = min(args.bot_procs, players)
    per = math.ceil(players / procs)
    bots: list[asyncio.subprocess.Process] = []
    for k in range(procs):
        count = min(per, players - k * per)
        command = [
            PYTHON, "bench/world_bots.py", "--tickets", str(tickets),
            "--start", str(k * per), "--count", str(count),
            "--base-ws", f"ws://127.0.0.1:{deployment.port}",
            "--decode-every", str(args.decode_every),
            *(["--timeline"] if args.timeline else []),
        ]  # fmt: skip
        bots.append(
            await asyncio.create_subprocess_exec(
                *pinned(command, args.bot_cpus, BOT_NICE),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**26,
            )
        )
    try:
        connect_started = time.monotonic()
        ready = [await read_event(bot, args.connect_timeout) for bot in bots]
        connect_s = time.monotonic() - connect_started
        for bot in bots:
            await tell(bot, "walk")
        await asyncio.sleep(args.warmup)
        server_pids, bot_pids, rpid = deployment.pids(), [b.pid for b in bots], redis_pid()
        metrics0 = scrape(deployment)
        cpu0 = {pid: cpu_seconds(pid) for pid in [*server_pids, *bot_pids]}
        redis0 = cpu_seconds(rpid) if rpid else 0.0
        busy0 = machine_busy_seconds()
        steal0 = machine_steal_seconds()
        started = time.monotonic()
        for bot in bots:
            await tell(bot, "start")
        profiler = start_profiler(deployment, args) if args.profile else None
        window_probes = await probe_host_speed(args.duration)
        for bot in bots:
            await tell(bot, "stop")
        window = time.monotonic() - started
        cpu1 = {pid: cpu_seconds(pid) for pid in [*server_pids, *bot_pids]}
        redis1 = cpu_seconds(rpid) if rpid else 0.0
        busy1 = machine_busy_seconds()
        steal1 = machine_steal_seconds()
        metrics1 = scrape(deployment)
        memory = [memory_mb(pid) for pid in server_pids]
        results = [await read_event(bot, 60) for bot in bots]
        for bot in bots:
            await tell(bot, "quit")
        if profiler is not None:
            finish_profiler(profiler)
    finally:
        for bot in bots:
            try:
                await asyncio.wait_for(bot.wait(), 30)
            except TimeoutError:
                bot.kill()
                await bot.wait()
    rtts = sorted(r for result in results for r in result["rtts_ms"])
    if args.timeline:
        merged: dict[int, list[float]] = {}
        for result in results:
            for bucket, count, worst in result["timeline"]:
                entry = merged.setdefault(bucket, [0, 0.0])
                entry[0] += count
                entry[1] = max(entry[1], worst)
        (RESULTS / f"{deployment.tag}_timeline.json").write_text(json.dumps(sorted(merged.items())))

    def rate(key: str) -> float:
        return sum(result[key] for result in results) / window

    def delta(name: str) -> float:
        if "scrape_failed" in metrics0 or "scrape_failed" in metrics1:
            return math.nan
        return metrics1.get(name, 0.0) - metrics0.get(name, 0.0)

    server_cpu = {
        server.name: round((cpu1[server.process.pid] - cpu0[server.process.pid]) / window * 100, 1)
        for server in deployment.processes
    }
    ticks = delta("mmo_tick_duration_seconds_count")
    ours = sum(cpu1[p] - cpu0[p] for p in cpu1) + (redis1 - redis0)
    return {
        "connected": sum(r["connected"] for r in ready),
        "join_failed": sum(r["failed"] for r in ready),
        "join_failures": [f for r in ready for f in r["failures"]][:3],
        "connect_s": round(connect_s, 1),
        "window_s": round(window, 2),
        "sent_per_s": round(rate("sent")),
        "acks_per_s": round(len(rtts) / window),
        "expected_acks_per_s": 10 * players,
        "frames_per_s": round(rate("frames")),
        "expected_frames_per_s": 20 * players,
        "server_frames_per_s": _rounded(delta("mmo_frames_out_total") / window),
        "mib_per_s": round(rate("bytes") / 2**20, 2),
        "rtt_min_ms": rtts[0] if rtts else None,
        "rtt_p10_ms": percentile(rtts, 10),
        "rtt_p50_ms": percentile(rtts, 50),
        "rtt_p95_ms": percentile(rtts, 95),
        "rtt_p99_ms": percentile(rtts, 99),
        "rtt_max_ms": rtts[-1] if rtts else None,
        "server_cpu_pct": round(sum(server_cpu.values()), 1),
        "server_cpu_by_process": server_cpu,
        "redis_cpu_pct": round((redis1 - redis0) / window * 100, 1) if rpid else None,
        "server_rss_mb": round(sum(m[0] for m in memory)),
        "server_peak_rss_mb": round(sum(m[1] for m in memory)),
        "bot_cpu_pct": round(sum(cpu1[p] - cpu0[p] for p in bot_pids) / window * 100, 1),
        "other_processes_cpu_pct": round((busy1 - busy0 - ours) / window * 100, 1),
        # a noisy host: time the hypervisor ran other guests (counted in the line above too)
        "steal_pct": round((steal1 - steal0) / window * 100, 1),
        # the speed probe during the window, scaled to the 1 M-loop figure (lower = faster)
        "window_probe_ms": window_probes,
        "bot_loop_lag_p99_ms": max((r["loop_lag_p99_ms"] or 0) for r in results),
        "tick_mean_ms": _rounded(delta("mmo_tick_duration_seconds_sum") / ticks * 1000, 2)
        if ticks
        else None,
        "ticks_per_s": _rounded(ticks / window / max(1, deployment.shards), 1),
        "tick_overruns_per_s": _rounded(delta("mmo_tick_overruns_total") / window, 2),
        # full collections in the window (processes with a metrics endpoint: embedded, shards)
        "gc_full_collections": delta("mmo_gc_pause_seconds_count:gen2"),
        "gc_full_pause_ms": _rounded(delta("mmo_gc_pause_seconds_sum:gen2") * 1000, 1),
        "closed_in_window": sum(r["closed_in_window"] for r in results),
        "close_reasons": sorted({c for r in results for c in r["close_reasons"]})[:5],
        "errors": sum(r["errors"] for r in results),
        "error_samples": [e for r in results for e in r["error_samples"]][:3],
        "corrections_seen": sum(r["corrections"] for r in results),
        "late_sends": sum(r["late_sends"] for r in results),
    }


def start_profiler(
    deployment: Deployment, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """py-spy record of every server process during the window (collapsed stacks + SVG)."""
    profilers = []
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    for server in deployment.processes:
        out = RESULTS / f"{deployment.tag}_{server.name}_pyspy.txt"
        command = [
            py_spy, "record", "-p", str(server.process.pid), "-d", str(int(args.duration)),
            "-r", "100", "-f", "raw", "-o", str(out), "--nonblocking", "--threads",
        ]  # fmt: skip
        profilers.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    return profilers


def finish_profiler(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        try:
            profiler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            profiler.kill()


def wait_for(predicate: Any, timeout: float, what: str, deployment: Deployment) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if not deployment.alive():
            raise RuntimeError(f"a server process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (several with SO_REUSEPORT), from /proc/net/tcp."""
    wanted = f":{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1].endswith(wanted) and row.split()[3] == "0A")


def gateways_listening(deployment: Deployment) -> bool:
    return listeners(deployment.port) >= deployment.gateways


def run_once(deployment: Deployment, players: int, args: argparse.Namespace) -> dict[str, Any]:
    deployment.port = free_port()
    tag = f"{deployment.tag}_n{players}"
    tickets = RESULTS / f"{tag}_tickets.jsonl"
    tickets.unlink(missing_ok=True)
    run_checked(
        [
            PYTHON, "bench/world_setup.py", "prepare", "--players", str(players),
            "--scenario", deployment.scenario,
            "--shards", json.dumps(deployment.shard_rows()),
        ],
        deployment.env,
        900,
    )  # fmt: skip
    if deployment.kind == "production":
        redis_flush_bench_db()
    saved_tag, deployment.tag = deployment.tag, tag
    started = time.monotonic()
    deployment.start(players, tickets, {})
    try:
        wait_for(lambda: gateways_listening(deployment), 120, "the server port", deployment)
        if deployment.kind == "production":
            run_checked(
                [PYTHON, "bench/world_setup.py", "tickets", "--players", str(players),
                 "--out", str(tickets)],
                deployment.env,
                600,
            )  # fmt: skip
        wait_for(tickets.exists, 600, "the world tickets", deployment)
        prime_http(deployment)
        setup_s = time.monotonic() - started
        result = asyncio.run(measure(deployment, players, tickets, args))
        result["setup_s"] = round(setup_s, 1)
    finally:
        result_codes = deployment.stop()
        deployment.tag = saved_tag
    result["exit_codes"] = result_codes
    return result


# --- HTTP login path -------------------------------------------------------------------------


async def http_logins(base_url: str, count: int, concurrency: int) -> dict[str, Any]:
    from bench.world_setup import LOGIN_PASSWORD, USERNAME_PREFIX
    from mmo_client import PlatformAPI

    login_ms: list[float] = []
    join_ms: list[float] = []
    failures: list[str] = []
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            index = queue.pop()
            api = PlatformAPI(base_url)
            try:
                t0 = time.perf_counter()
                await api.login(f"{USERNAME_PREFIX}{index:05d}", LOGIN_PASSWORD)
                t1 = time.perf_counter()
                characters = await api.characters()
                await api.join(characters[0]["id"])
                t2 = time.perf_counter()
                login_ms.append((t1 - t0) * 1000)
                join_ms.append((t2 - t1) * 1000)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}"[:200])
            finally:
                await api.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    login_ms.sort()
    join_ms.sort()
    return {
        "logins": len(login_ms),
        "failed": len(failures),
        "failures": failures[:3],
        "elapsed_s": round(elapsed, 2),
        "logins_per_s": round(len(login_ms) / elapsed, 2),
        "login_p50_ms": percentile(login_ms, 50),
        "login_p95_ms": percentile(login_ms, 95),
        "join_p50_ms": percentile(join_ms, 50),
        "join_p95_ms": percentile(join_ms, 95),
    }


def run_logins(deployment: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    deployment.port = free_port()
    run_checked(
        [
            PYTHON, "bench/world_setup.py", "prepare", "--players", str(args.logins),
            "--scenario", "aoi", "--shards", json.dumps(deployment.shard_rows()),
            "--login-accounts", str(args.logins),
        ],
        deployment.env,
        900,
    )  # fmt: skip
    saved_tag, deployment.tag = deployment.tag, f"{deployment.tag}_logins"
    deployment.start(0, RESULTS / "unused", {"BENCH_LIFT_LOGIN_LIMIT": "1"})
    try:
        wait_for(lambda: port_open(deployment.port), 120, "the server port", deployment)
        time.sleep(3)  # shards heartbeat
        pids = deployment.pids()
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        t0 = time.monotonic()
        base_url = f"http://127.0.0.1:{deployment.port}"
        result = asyncio.run(http_logins(base_url, args.logins, args.login_concurrency))
        result["server_cpu_pct"] = round(
            (sum(cpu_seconds(pid) for pid in pids) - cpu0) / (time.monotonic() - t0) * 100, 1
        )
    finally:
        deployment.stop()
        deployment.tag = saved_tag
    return result


# --- main ------------------------------------------------------------------------------------


def table_row(players: int, r: dict[str, Any]) -> str:
    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    frames_ratio = r["frames_per_s"] / r["expected_frames_per_s"] * 100
    acks_ratio = r["acks_per_s"] / r["expected_acks_per_s"] * 100
    return (
        f"| {players:,} | {r['connected']:,} | {r['acks_per_s']:,} ({acks_ratio:.0f} %) "
        f"| {r['frames_per_s']:,} ({frames_ratio:.0f} %) | {fmt(r['server_frames_per_s'])} "
        f"| {fmt(r['rtt_p50_ms'])} | {fmt(r['rtt_p95_ms'])} | {fmt(r['rtt_p99_ms'])} "
        f"| {fmt(r['rtt_max_ms'])} | {r['server_cpu_pct']} | {fmt(r['redis_cpu_pct'])} "
        f"| {r['server_cpu_pct'] * 1000 / players:.0f} | {r['server_rss_mb']} "
        f"| {fmt(r['tick_mean_ms'])} | {r['bot_cpu_pct']} | {fmt(r['bot_loop_lag_p99_ms'])} "
        f"| {r['closed_in_window']} / {r['errors']} |"
    )  # fmt: skip


TABLE_HEADER = (
    "| N | connected | acks/s (of 10 N) | frames/s (of 20 N) | server frames/s | p50 ms | p95 ms "
    "| p99 ms | max ms | server CPU % | Redis CPU % | CPU % per 1,000 | RSS MiB | tick ms "
    "| bot CPU % | bot lag p99 ms | closes / errors |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployment", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--gateway", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--shards", type=int, choices=[1, 2], default=1)
    parser.add_argument(
        "--gateways",
        type=int,
        default=1,
        help="production: uvicorn gateway processes sharing the port (serve --reuse-port)",
    )
    parser.add_argument("--scenario", choices=["aoi", "crowd"], default="aoi")
    parser.add_argument("--players", type=int, nargs="*", default=[100, 250, 500, 1000, 2000])
    parser.add_argument("--bot-procs", type=int, default=int(os.environ.get("BOT_PROCS", 2)))
    parser.add_argument("--decode-every", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connect-timeout", type=float, default=300.0)
    parser.add_argument("--server-cpus", default=None, help="taskset core list for the server")
    parser.add_argument("--bot-cpus", default=None, help="taskset core list for the bots")
    parser.add_argument("--profile", action="store_true", help="py-spy record the server")
    parser.add_argument("--logins", type=int, default=0, help="measure N HTTP logins instead")
    parser.add_argument("--login-concurrency", type=int, default=10)
    parser.add_argument("--label", default="", help="extra tag for the result files")
    parser.add_argument("--timeline", action="store_true", help="save max RTT per 100 ms")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each N, wait up to this many s for the rest of the machine to go quiet",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=None,
        help="autogroup nice of this run's session: server and bots (e.g. -10; needs root)",
    )
    parser.add_argument(
        "--bot-nice",
        type=int,
        default=0,
        help="bots' nice inside the session, so they yield to the server (e.g. 10)",
    )
    parser.add_argument("--quiet-pct", type=float, default=25.0, help="'quiet' = under this %%")
    args = parser.parse_args()
    global BOT_NICE
    BOT_NICE = args.bot_nice
    saved_nice = autogroup_nice()
    if args.nice is not None and not set_autogroup_nice(args.nice):
        parser.error("--nice: this kernel or user cannot set the session's autogroup nice")
    try:
        run(args, parser)
    finally:
        if args.nice is not None and saved_nice is not None:
            set_autogroup_nice(saved_nice)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:

    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.deployment == "embedded" and args.gateway == "daphne":
        parser.error("daphne has no ASGI lifespan, so it cannot host the embedded world")
    if args.gateways > 1 and (args.deployment == "embedded" or args.gateway == "daphne"):
        parser.error("--gateways > 1 needs the production deployment with uvicorn gateways")
    tag = "_".join(
        part
        for part in (
            args.deployment[:4],
            args.gateway if args.deployment == "production" else "",
            f"{args.shards}sh" if args.deployment == "production" else "",
            f"{args.gateways}gw" if args.gateways > 1 else "",
            args.scenario,
            f"s{args.server_cpus}b{args.bot_cpus}" if args.server_cpus or args.bot_cpus else "",
            "prof" if args.profile else "",
            args.label,
        )
        if part
    )
    deployment = Deployment(
        args.deployment, args.gateway, args.shards, args.scenario, args.server_cpus, tag
    )
    deployment.gateways = args.gateways
    deployment.env = deployment.base_env()
    run_checked(
        [PYTHON, "bench/world_setup.py", "content", "--dir", str(CONTENT_DIR)], dict(os.environ), 60
    )
    ensure_database(deployment)
    sys.path.insert(0, str(ROOT))
    from bench.speed_probe import speed_probe_ms

    if args.logins:
        result = run_logins(deployment, args)
        record = {"tag": tag, "command": " ".join(sys.argv), "logins": args.logins, **result}
        with (RESULTS / "world_load.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        print(json.dumps(record, indent=1))
        return
    print(f"{tag}: {' '.join(sys.argv)}  (load {os.getloadavg()[0]:.1f})", flush=True)
    print(TABLE_HEADER, flush=True)
    for players in args.players:
        quiet = wait_until_quiet(args.quiet_pct, args.quiet_wait) if args.quiet_wait else None
        load = os.getloadavg()[0]
        probe_before = speed_probe_ms()
        try:
            result = run_once(deployment, players, args)
        except Exception as error:  # one failed size must not hide the others
            result = {"failed": f"{type(error).__name__}: {error}"[:2000]}
        result["speed_probe_ms"] = [probe_before, speed_probe_ms()]
        record = {
            "tag": tag,
            "command": " ".join(sys.argv),
            "players": players,
            "bot_procs": args.bot_procs,
            "decode_every": args.decode_every,
            "nice": args.nice,
            "bot_nice": args.bot_nice,
            "load_before": round(load, 2),
            "machine_busy_before_pct": quiet,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **result,
        }
        with (RESULTS / "world_load.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        if "failed" in result:
            print(f"| {players:,} | FAILED: {result['failed'][:300]} |", flush=True)
        else:
            print(table_row(players, result), flush=True)
            print(
                f"  by process: {result['server_cpu_by_process']}; other processes "
                f"{result['other_processes_cpu_pct']} % (host steal {result['steal_pct']} %); "
                f"speed probe before/after {result['speed_probe_ms']} ms, in the window "
                f"{probe_summary(result.get('window_probe_ms') or [])}; full GCs "
                f"{result.get('gc_full_collections')} ({result.get('gc_full_pause_ms')} ms)",
                file=sys.stderr,
                flush=True,
            )


if __name__ == "__main__":
    main()
