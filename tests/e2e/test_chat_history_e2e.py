"""Chat history over real sockets: a bot says something in the world and the shard writes it to
the database (chat.ChatMessage) with the right sender, zone, channel and text."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.utils import timezone

from chat.models import ChatMessage
from tests.e2e.conftest import LiveWorld
from tests.e2e.test_world_e2e import enter, make_player, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def shard() -> None:
    from tests.characters.factories import RealmFactory, ShardFactory

    ShardFactory(realm=RealmFactory(slug="e2e"), name="e2e-1", capacity=50)


def stored_lines() -> list[ChatMessage]:
    return list(ChatMessage.objects.select_related("realm").order_by("pk"))


async def wait_for_rows(count: int, timeout: float = 10.0) -> list[ChatMessage]:
    """Poll the database (from a worker thread: the ORM is synchronous) until the shard wrote."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await asyncio.to_thread(stored_lines)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


def test_what_a_bot_says_lands_in_the_chat_history(shard: None, live_world: LiveWorld) -> None:
    alice = make_player("Alice")
    bob = make_player("Bob", dx=1.0)
    before = timezone.now()

    async def scenario() -> list[ChatMessage]:
        a = await enter(live_world, alice)
        b = await enter(live_world, bob)
        heard: list[dict[str, object]] = []
        b.on_frame = lambda frame: heard.extend(
            event for event in frame.get("ev", []) if event.get("e") == "chat"
        )
        await a.send("chat", ch="say", text="anyone selling potions?")
        await a.send("chat", ch="zone", text="guild recruiting in town")
        await wait_until(lambda: len(heard) >= 2)  # accepted and delivered by the sim
        rows = await wait_for_rows(2)
        await a.close()
        await b.close()
        return rows

    rows = asyncio.run(scenario())
    assert [(row.channel, row.text) for row in rows] == [
        ("say", "anyone selling potions?"),
        ("zone", "guild recruiting in town"),
    ]
    for row in rows:
        assert row.sender_id == alice.pk and row.sender_name == "Alice"
        assert (row.realm.slug, row.shard, row.zone) == ("e2e", "e2e-1", "town")
        assert before <= row.sent_at <= timezone.now()
