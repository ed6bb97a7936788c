"""Database side of the end-to-end world benchmark (bench/world_load.py runs these steps).

Run as a script with the environment of the deployment under test (bench/world_settings.py):

    world_setup.py content --dir D               bench content = shipped content + open zones
    world_setup.py prepare --players N ...       realm, shard rows, N accounts + characters placed
    world_setup.py tickets --players N --out F   one world ticket per character (worlds.services)

Accounts and characters are created once through the services (``character_create``) and
reused by every run; ``prepare`` only moves the first N characters to their places for the
scenario. Tickets come from ``worlds.services.world_join`` called server-side: logging 2,000 bots
in through the HTTP API would measure password hashing, not the world (the HTTP path is measured
on its own with ``world_load.py --logins``). In embedded mode tickets live in the server
process's local-memory cache, so ``bench/world_app.py`` calls ``tickets_write`` inside the
server; in production they live in Redis and this script writes them from outside.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

REALM_SLUG = "bench"
USERNAME_PREFIX = "wbot"
LOGIN_PASSWORD = "bench-world-correct-horse-42"
OPEN_ZONE_SIDE = 448
# AOI scenario: one player per this many tiles, i.e. about pi * 24^2 / 90 = 20 others within
# the view radius (24 tiles) of each player, at every N.
TILES_PER_PLAYER = 90.0
# All-visible scenario: everyone within this radius of one point, so everyone is within view of
# everyone (the view radius is 24 tiles; two players at most 22 tiles apart).
CROWD_RADIUS = 11.0
SEED = 7


# --- content (no Django needed) -------------------------------------------------------------


def content_write(*, target: Path, side: int = OPEN_ZONE_SIDE) -> None:
    """The shipped content plus two open grass zones ``plains`` and ``plains2`` (side x side)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "content", target)
    for zone_id in ("plains", "plains2"):
        zone = {
            "format": 1,
            "id": zone_id,
            "name": f"Bench {zone_id.title()}",
            "kind": "field",
            "legend": {".": {"kind": "grass", "walkable": True}},
            "tiles": ["." * side] * side,
            "spawn_points": [{"id": "default", "x": side / 2, "y": side / 2}],
            "portals": [],
            "npc_spawns": [],
        }
        (target / "zones" / f"{zone_id}.json").write_text(json.dumps(zone))


# --- placement (pure) ------------------------------------------------------------------------


def placements(*, players: int, scenario: str, zones: list[str]) -> list[tuple[str, float, float]]:
    """(zone, x, y) of each of the first ``players`` characters.

    Every position is 0.3 tiles into its tile (x) so the bot's back-and-forth of 0.4 tiles stays
    inside one walkable tile: every move is valid and the server does its full work on it.
    """
    import numpy as np

    rng = np.random.default_rng(SEED)
    centre = OPEN_ZONE_SIDE / 2
    result: list[tuple[str, float, float]] = []
    if scenario == "crowd":
        angle = rng.uniform(0, 2 * math.pi, players)
        radius = CROWD_RADIUS * np.sqrt(rng.uniform(0, 1, players))
        xs = np.floor(centre + radius * np.cos(angle)) + 0.3
        ys = np.floor(centre + radius * np.sin(angle)) + 0.5
        return [(zones[0], float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    per_zone = [len(range(k, players, len(zones))) for k in range(len(zones))]
    coords: list[tuple[Any, Any]] = []
    for count in per_zone:
        side = min(OPEN_ZONE_SIDE - 16.0, math.sqrt(max(count, 1) * TILES_PER_PLAYER))
        xs = np.floor(centre - side / 2 + rng.uniform(0, side, count)) + 0.3
        ys = np.floor(centre - side / 2 + rng.uniform(0, side, count)) + 0.5
        coords.append((xs, ys))
    for i in range(players):
        k = i % len(zones)
        xs, ys = coords[k]
        result.append((zones[k], float(xs[i // len(zones)]), float(ys[i // len(zones)])))
    return result


# --- Django steps ----------------------------------------------------------------------------


def _django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.world_settings")
    import django

    django.setup()


def _username(index: int) -> str:
    return f"{USERNAME_PREFIX}{index:05d}"


def _character_name(index: int, attempt: int) -> str:
    letters = ""
    value = index + attempt * 1_000_003
    for _ in range(5):
        value, digit = divmod(value, 26)
        letters += chr(ord("a") + digit)
    return "Wb" + letters


def prepare(
    *, players: int, scenario: str, shards: list[dict[str, Any]], login_accounts: int
) -> None:
    """Realm, exactly the given shard rows, >= ``players`` bench characters, placed."""
    from allauth.account.models import EmailAddress
    from django.db import transaction

    from accounts.models import User
    from characters.models import Character
    from characters.services import character_create
    from mmo_platform.errors import ValidationFailed
    from worlds.models import LoginQueueEntry, Realm, Shard, ShardReservation

    realm, _ = Realm.objects.get_or_create(
        slug=REALM_SLUG, defaults={"name": "Bench", "region": "eu", "kind": "pve"}
    )
    if not realm.is_open:
        Realm.objects.filter(pk=realm.pk).update(is_open=True)
    # Slots held and places in line from earlier runs would count against the shards' capacity.
    ShardReservation.objects.all().delete()
    LoginQueueEntry.objects.all().delete()
    names = [shard["name"] for shard in shards]
    Shard.objects.exclude(name__in=names).delete()
    for shard in shards:
        Shard.objects.update_or_create(
            name=shard["name"],
            defaults={
                "realm": realm,
                "region": "eu",
                "capacity": 10_000,
                "zones": shard["zones"],
                "ws_url": shard["ws_url"],
                "status": "offline",
                "held_status": "",
                "population": 0,
                "last_heartbeat": None,
            },
        )

    existing = set(
        User.objects.filter(username__startswith=USERNAME_PREFIX).values_list("username", flat=True)
    )
    created = 0
    for index in range(players):
        username = _username(index)
        if username in existing:
            continue
        with transaction.atomic():
            user = User(username=username, email=f"{username}@bench.test")
            if index < login_accounts:
                user.set_password(LOGIN_PASSWORD)
            else:
                user.set_unusable_password()
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        for attempt in range(20):
            try:
                character_create(
                    user=user,
                    realm_slug=REALM_SLUG,
                    name=_character_name(index, attempt),
                    class_id=("warrior", "mage", "ranger", "cleric")[index % 4],
                    race_id=("human", "elf", "dwarf", "orc")[index % 4],
                    appearance={"body": 1 + index % 4, "hair": 1 + index % 8, "color": "ember"},
                )
                break
            except ValidationFailed:
                continue  # a generated name hit the reserved list or a taken name
        created += 1
    zones = sorted({zone for shard in shards for zone in shard["zones"] if "plains" in zone})
    spots = placements(players=players, scenario=scenario, zones=zones or ["plains"])
    characters = list(
        Character.objects.filter(account__username__startswith=USERNAME_PREFIX)
        .select_related("account")
        .order_by("account__username")[:players]
    )
    for character, (zone, x, y) in zip(characters, spots, strict=True):
        character.zone, character.x, character.y, character.facing = zone, x, y, 0.0
    Character.objects.bulk_update(characters, ["zone", "x", "y", "facing"], batch_size=500)
    print(json.dumps({"prepared": players, "created": created, "scenario": scenario}))


def tickets_write(*, players: int, out: Path, wait_seconds: float = 60.0) -> int:
    """A world ticket for each of the first ``players`` bench characters, one JSON line each.

    Waits (retrying) until the shards have sent the heartbeat that makes them routable.
    """
    from characters.models import Character
    from mmo_platform.errors import Unavailable
    from worlds.services import world_join

    characters = list(
        Character.objects.filter(account__username__startswith=USERNAME_PREFIX)
        .select_related("account")
        .order_by("account__username")[:players]
    )
    deadline = time.monotonic() + wait_seconds
    lines: list[str] = []
    started = time.perf_counter()
    for character in characters:
        while True:
            try:
                outcome = world_join(user=character.account, character_id=character.pk)
                break
            except Unavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        if outcome.status != "ready":
            raise RuntimeError(f"character {character.pk} was queued: {outcome}")
        lines.append(
            json.dumps(
                {
                    "ticket": outcome.ticket,
                    "ws_url": outcome.ws_url,
                    "shard": outcome.shard,
                    "character_id": character.pk,
                }
            )
        )
    partial = out.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.rename(out)  # the orchestrator waits for the final name
    return int((time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    content = commands.add_parser("content")
    content.add_argument("--dir", type=Path, required=True)
    prep = commands.add_parser("prepare")
    prep.add_argument("--players", type=int, required=True)
    prep.add_argument("--scenario", choices=["aoi", "crowd"], required=True)
    prep.add_argument("--shards", required=True, help="JSON list of {name, zones, ws_url}")
    prep.add_argument("--login-accounts", type=int, default=50)
    tickets = commands.add_parser("tickets")
    tickets.add_argument("--players", type=int, required=True)
    tickets.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "content":
        content_write(target=args.dir)
        return
    _django_setup()
    if args.command == "prepare":
        prepare(
            players=args.players,
            scenario=args.scenario,
            shards=json.loads(args.shards),
            login_accounts=args.login_accounts,
        )
    else:
        elapsed_ms = tickets_write(players=args.players, out=args.out)
        print(json.dumps({"tickets": args.players, "ms": elapsed_ms}))


if __name__ == "__main__":
    main()
