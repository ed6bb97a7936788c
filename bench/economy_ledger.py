"""Economy ledger throughput on PostgreSQL: purchases/s and trades/s with N concurrent workers.

Workers are processes x threads (default 5 x 10 = 50): processes so Python's GIL does not cap
the client side on a multi-core box, threads inside each so 50 database sessions do not need 50
interpreters' memory. Every worker has its own database connection.

Scenarios (each bounded to --seconds):
- ``purchases``: every worker buys for its own character (the common case: contention only on
  the sharded shop revenue account and the database itself).
- ``purchases-hot``: all workers buy for the SAME character (worst case: one inventory lock
  serialises everything).
- ``trades``: every worker drives complete trades between its own pair of characters (open,
  accept, two offers, two locks, two confirms = 8 transactions; the last one is the swap).

Usage (creates the database if missing, migrates it, seeds its own realm)::

    .venv/bin/python bench/economy_ledger.py \\
        --database-url postgres://postgres@127.0.0.1:5432/bench_economy --seconds 20

Prints one line per scenario: operations, operations/s, p50/p99 latency, refusals by code, and
whether the reconciliation afterwards was clean.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_economy"


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mmo_platform.settings.test"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def seed(run_id: str, characters: int) -> list[int]:
    """Create a realm with ``characters`` characters, each with gold, gems and potions."""
    from accounts.models import User
    from characters.models import Character
    from economy.services import economy_grant
    from worlds.models import Realm

    realm = Realm.objects.create(slug=f"bench-{run_id}", name=f"Bench {run_id}", region="eu")
    ids = []
    for index in range(characters):
        user = User.objects.create(
            username=f"bench{run_id}u{index}", email=f"b{run_id}{index}@x.test"
        )
        character = Character.objects.create(
            account=user,
            realm=realm,
            name=f"B{run_id[-6:]}n{index}",
            name_key=f"b{run_id[-6:]}n{index}",
            class_id="warrior",
            race_id="human",
            zone="town",
            x=1.0,
            y=1.0,
            hp=100,
            max_hp=100,
            resource=100,
            max_resource=100,
            level=10,
        )
        economy_grant(
            character=character,
            source="gm",
            actor=None,
            reason="bench",
            idempotency_key=f"bench-{run_id}-{index}",
            currency="gold",
            amount=10**9,
            items=[("bread", 20)],
        )
        ids.append(character.pk)
    return ids


# --- worker side ---------------------------------------------------------------------------


def _purchase_loop(
    character_id: int, deadline: float, tag: str
) -> tuple[list[float], Counter[str]]:
    from characters.models import Character
    from economy.services import shop_purchase
    from mmo_platform.errors import DomainError

    character = Character.objects.select_related("account").get(pk=character_id)
    latencies: list[float] = []
    refusals: Counter[str] = Counter()
    serial = 0
    while time.monotonic() < deadline:
        serial += 1
        started = time.perf_counter()
        try:
            shop_purchase(
                user=character.account,
                character=character,
                offer_id="healing_potion",
                quantity=1,
                idempotency_key=f"{tag}-{serial}",
            )
        except DomainError as error:
            refusals[error.code] += 1
            # a full bag: make room so the loop keeps measuring purchases
            if error.code == "inventory_full":
                _empty_bag(character)
            continue
        latencies.append(time.perf_counter() - started)
    return latencies, refusals


def _empty_bag(character: Any) -> None:
    from economy.models import ItemContainer, ItemInstance
    from economy.services import inventory_destroy

    for item in ItemInstance.objects.filter(
        owner=character, container=ItemContainer.INVENTORY, definition_id="healing_potion"
    ):
        inventory_destroy(
            character=character,
            item_id=item.pk,
            quantity=None,
            confirm=True,
            idempotency_key=f"bench-clear-{item.pk}",
        )


def _trade_loop(pair: tuple[int, int], deadline: float) -> tuple[list[float], Counter[str]]:
    from characters.models import Character
    from economy.models import ItemContainer, ItemInstance
    from economy.services import (
        trade_accept,
        trade_cancel_for_character,
        trade_confirm,
        trade_lock,
        trade_open,
        trade_set_offer,
    )
    from mmo_platform.errors import DomainError

    a, b = (Character.objects.get(pk=pk) for pk in pair)
    latencies: list[float] = []
    refusals: Counter[str] = Counter()
    flip = False
    while time.monotonic() < deadline:
        giver, taker = (b, a) if flip else (a, b)
        flip = not flip
        started = time.perf_counter()
        try:
            trade = trade_open(initiator=giver, partner_name=taker.name)
            trade_accept(character=taker, trade_id=trade.pk)
            bread = ItemInstance.objects.filter(
                owner=giver, container=ItemContainer.INVENTORY, definition_id="bread"
            ).first()
            items = [(bread.pk, 1)] if bread else []
            trade_set_offer(character=giver, trade_id=trade.pk, items=items, currency={"gold": 5})
            trade_set_offer(character=taker, trade_id=trade.pk, currency={"gold": 1})
            trade_lock(character=giver, trade_id=trade.pk)
            trade_lock(character=taker, trade_id=trade.pk)
            trade_confirm(character=giver, trade_id=trade.pk)
            trade_confirm(character=taker, trade_id=trade.pk)
        except DomainError as error:
            refusals[error.code] += 1
            trade_cancel_for_character(giver.pk, reason="bench")
            continue
        latencies.append(time.perf_counter() - started)
    return latencies, refusals


def worker_process(args: dict[str, Any]) -> tuple[list[float], dict[str, int]]:
    setup_django(args["database_url"])
    from django.db import connections

    results: list[tuple[list[float], Counter[str]]] = []
    lock = threading.Lock()

    def thread_main(index: int) -> None:
        try:
            while time.time() < args["start_at"]:
                time.sleep(0.01)
            deadline = time.monotonic() + args["seconds"]
            if args["scenario"] == "trades":
                outcome = _trade_loop(args["pairs"][index], deadline)
            else:
                tag = f"{args['run_id']}-{args['scenario']}-{args['process']}-{index}"
                outcome = _purchase_loop(args["characters"][index], deadline, tag)
            with lock:
                results.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(args["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [value for lat, _ in results for value in lat]
    refusals: Counter[str] = Counter()
    for _, counter in results:
        refusals.update(counter)
    return latencies, dict(refusals)


# --- orchestration -------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def run_scenario(
    scenario: str, options: argparse.Namespace, character_ids: list[int], run_id: str
) -> dict[str, Any]:
    processes, threads = options.processes, options.workers // options.processes
    jobs = []
    for process in range(processes):
        base = process * threads
        job: dict[str, Any] = {
            "database_url": options.database_url,
            "scenario": scenario,
            "seconds": options.seconds,
            "threads": threads,
            "process": process,
            "run_id": run_id,
            "start_at": time.time() + 6.0,
        }
        if scenario == "trades":
            job["pairs"] = [
                (character_ids[2 * (base + i)], character_ids[2 * (base + i) + 1])
                for i in range(threads)
            ]
        elif scenario == "purchases-hot":
            job["characters"] = [character_ids[0]] * threads
        else:
            job["characters"] = [character_ids[base + i] for i in range(threads)]
        jobs.append(job)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        outcomes = pool.map(worker_process, jobs)
    latencies = [value for lat, _ in outcomes for value in lat]
    refusals: Counter[str] = Counter()
    for _, counter in outcomes:
        refusals.update(counter)
    return {
        "scenario": scenario,
        "operations": len(latencies),
        "per_second": len(latencies) / options.seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "mean_ms": (statistics.fmean(latencies) * 1000) if latencies else float("nan"),
        "refusals": dict(refusals),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--scenarios", default="purchases,purchases-hot,trades", help="comma-separated"
    )
    options = parser.parse_args()
    if options.workers % options.processes:
        parser.error("--workers must be a multiple of --processes")
    if not options.database_url.startswith("postgres"):
        parser.error("this benchmark needs PostgreSQL")

    ensure_database(options.database_url)
    setup_django(options.database_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    run_id = time.strftime("%m%d%H%M%S")
    character_ids = seed(run_id, options.workers * 2)
    connection.close()

    print(
        f"economy ledger bench: {options.workers} workers "
        f"({options.processes} processes x {options.workers // options.processes} threads), "
        f"{options.seconds:g} s per scenario"
    )
    print("| scenario | operations | ops/s | p50 ms | p99 ms | mean ms | refusals |")
    print("|---|---|---|---|---|---|---|")
    for scenario in options.scenarios.split(","):
        result = run_scenario(scenario.strip(), options, character_ids, run_id)
        print(
            f"| {result['scenario']} | {result['operations']} | {result['per_second']:.1f} | "
            f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['mean_ms']:.1f} | "
            f"{result['refusals'] or '-'} |",
            flush=True,
        )

    from economy.services import economy_reconcile

    started = time.perf_counter()
    report = economy_reconcile()
    print(
        f"reconciliation afterwards: {'clean' if report.ok else 'MISMATCH'} "
        f"({report.checked}, {time.perf_counter() - started:.2f} s)"
    )


if __name__ == "__main__":
    main()
