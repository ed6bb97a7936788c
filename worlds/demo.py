"""Demo realms and shards for `make run` (called by `manage.py seed_demo`). Idempotent.

Two realms in two regions. Each gets one shard whose ``ws_url`` is relative (``/ws/world/``),
i.e. served by this site: in embedded mode the in-process world loop heartbeats every such shard
(ADR 0012), so they go online when the server starts and count as down when it stops.
"""

from __future__ import annotations

from worlds.models import Realm, Shard, ShardStatus

DEMO_REALMS = (
    # slug, name, region, kind
    ("eldoria", "Eldoria", "eu", "pve"),
    ("frostmere", "Frostmere", "na", "pvp"),
)
DEMO_SHARD_CAPACITY = 500


def seed() -> str:
    created = []
    for slug, name, region, kind in DEMO_REALMS:
        realm, realm_created = Realm.objects.get_or_create(
            slug=slug, defaults={"name": name, "region": region, "kind": kind}
        )
        if realm_created:
            created.append(f"realm {name}")
        _shard, shard_created = Shard.objects.get_or_create(
            name=f"{slug}-1",
            defaults={
                "realm": realm,
                "region": region,
                "capacity": DEMO_SHARD_CAPACITY,
                "status": ShardStatus.ONLINE,
                "ws_url": "/ws/world/",
            },
        )
        if shard_created:
            created.append(f"shard {slug}-1")
    if not created:
        return "demo realms already present"
    return f"created {', '.join(created)} (shards go online with the world loop's heartbeat)"
