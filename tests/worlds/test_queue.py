"""The login queue of a full realm: positions advance, order is kept, nobody skips the line,
abandoned and unclaimed places end, and the wait estimate comes from observed admissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.tickets import ticket_consume
from mmo_platform.errors import Conflict, NotFound
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from worlds.models import LoginQueueEntry, QueueStatus, ShardReservation
from worlds.selectors import login_queue_estimated_wait
from worlds.services import (
    login_queue_advance,
    login_queue_leave,
    login_queue_poll,
    shard_heartbeat,
    world_join,
    world_ticket_redeem,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_realm():
    """A realm whose only shard is full."""
    realm = RealmFactory(slug="eldoria")
    ShardFactory(realm=realm, name="eldoria-1", capacity=10, population=10)
    return realm


def players(realm, count):
    return [CharacterFactory(realm=realm) for _ in range(count)]


def join(character, now=None):
    return world_join(user=character.account, character_id=character.pk, now=now)


def free_places(count, now=None):
    """The shard reports ``count`` fewer players (some logged out)."""
    return shard_heartbeat(shard_name="eldoria-1", population=10 - count, now=now)


def test_joins_into_a_full_realm_get_positions_in_arrival_order(full_realm) -> None:
    outcomes = [join(character) for character in players(full_realm, 3)]

    assert [o.status for o in outcomes] == ["queued"] * 3
    assert [o.position for o in outcomes] == [1, 2, 3]
    assert all(o.ticket is None for o in outcomes)


def test_positions_advance_as_places_free_up_and_the_head_gets_a_ticket(full_realm) -> None:
    first, second, third = players(full_realm, 3)
    for character in (first, second, third):
        join(character)

    free_places(1)

    admitted = join(first)  # the next poll
    assert admitted.status == "ready"
    assert ticket_consume(purpose="world", ticket=admitted.ticket)["character_id"] == first.pk
    assert [join(c).position for c in (second, third)] == [1, 2]


def test_nobody_skips_the_line_even_when_a_place_is_free_at_the_moment_they_join(
    full_realm,
) -> None:
    waiting = players(full_realm, 2)
    for character in waiting:
        join(character)
    LoginQueueEntry.objects.update(last_seen_at=timezone.now())

    # a place frees up without a heartbeat having advanced the line yet
    shard = full_realm.shards.get()
    shard.population = 9
    shard.save()
    latecomer = CharacterFactory(realm=full_realm)
    outcome = join(latecomer)

    assert (outcome.status, outcome.position) == ("queued", 2)
    assert LoginQueueEntry.objects.get(character=waiting[0]).status == QueueStatus.ADMITTED


def test_admission_is_strict_fifo_over_many_rounds(full_realm) -> None:
    waiting = players(full_realm, 6)
    for character in waiting:
        join(character)
    admitted_order: list[int] = []

    for _round in range(3):
        free_places(len(admitted_order) + 2)
        for character in waiting:
            if character.pk in admitted_order:
                continue
            if join(character).status == "ready":
                admitted_order.append(character.pk)

    assert admitted_order == [c.pk for c in waiting]


def test_admitted_place_holds_a_slot_so_the_shard_is_not_overfilled(full_realm) -> None:
    first, second = players(full_realm, 2)
    join(first)
    join(second)

    free_places(1)

    reservation = ShardReservation.objects.get()
    assert reservation.account == first.account
    # the one free place is held for the head: the second player still waits
    assert join(second).position == 1
    assert join(first).status == "ready"


def test_player_who_stops_polling_leaves_the_line_and_the_rest_move_up(full_realm) -> None:
    now = timezone.now()
    quitter, stayer = players(full_realm, 2)
    join(quitter, now=now)
    join(stayer, now=now)

    later = now + timedelta(seconds=100)
    assert join(stayer, now=later).position == 2
    much_later = now + timedelta(seconds=200)
    shard_heartbeat(shard_name="eldoria-1", population=10, now=much_later)

    assert join(stayer, now=much_later).position == 1
    assert LoginQueueEntry.objects.get(character=quitter).status == QueueStatus.LEFT


@override_settings(LOGIN_QUEUE_CLAIM_SECONDS=60)
def test_unclaimed_admission_expires_and_the_slot_goes_to_the_next(full_realm) -> None:
    now = timezone.now()
    absent, next_in_line = players(full_realm, 2)
    join(absent, now=now)
    join(next_in_line, now=now)
    free_places(1, now=now)

    later = now + timedelta(seconds=61)
    shard_heartbeat(shard_name="eldoria-1", population=9, now=later)

    assert LoginQueueEntry.objects.get(character=absent).status == QueueStatus.LEFT
    assert join(next_in_line, now=later).status == "ready"


def test_poll_by_queue_id_returns_the_ticket_once_admitted(full_realm) -> None:
    character = CharacterFactory(realm=full_realm)
    queue_id = join(character).queue_id
    assert login_queue_poll(user=character.account, queue_id=queue_id).position == 1

    free_places(1)
    outcome = login_queue_poll(user=character.account, queue_id=queue_id)

    assert outcome.status == "ready"
    assert world_ticket_redeem(ticket=outcome.ticket) is not None
    with pytest.raises(Conflict) as excinfo:
        login_queue_poll(user=character.account, queue_id=queue_id)
    assert excinfo.value.code == "queue_closed"


def test_someone_elses_place_in_line_is_not_found(full_realm) -> None:
    owner, prober = players(full_realm, 2)
    queue_id = join(owner).queue_id

    with pytest.raises(NotFound):
        login_queue_poll(user=prober.account, queue_id=queue_id)
    with pytest.raises(NotFound):
        login_queue_leave(user=prober.account, queue_id=queue_id)
    assert LoginQueueEntry.objects.get(pk=queue_id).status == QueueStatus.WAITING


def test_leaving_the_line_moves_everyone_behind_up(full_realm) -> None:
    first, second = players(full_realm, 2)
    queue_id = join(first).queue_id
    join(second)

    login_queue_leave(user=first.account, queue_id=queue_id)

    assert join(second).position == 1


def test_joining_with_another_character_gives_up_the_old_place(full_realm) -> None:
    first = CharacterFactory(realm=full_realm)
    alt = CharacterFactory(realm=full_realm, account=first.account)
    old = join(first)

    new = join(alt)

    assert LoginQueueEntry.objects.get(pk=old.queue_id).status == QueueStatus.LEFT
    assert (new.position, new.queue_id != old.queue_id) == (1, True)


def test_deleting_a_queued_character_ends_its_place(full_realm) -> None:
    from characters.services import character_delete

    first, second = players(full_realm, 2)
    join(first)
    join(second)

    character_delete(user=first.account, character_id=first.pk)

    assert join(second).position == 1


def test_advance_stops_at_a_head_that_cannot_be_placed(full_realm) -> None:
    # The only shard with room does not host the head's zone: nobody behind may overtake it.
    ShardFactory(realm=full_realm, name="dungeon-1", zones=["dungeon_entrance"], population=0)
    head = CharacterFactory(realm=full_realm, zone="town")
    behind = CharacterFactory(realm=full_realm, zone="dungeon_entrance")
    LoginQueueEntry.objects.create(realm=full_realm, account=head.account, character=head)
    LoginQueueEntry.objects.create(realm=full_realm, account=behind.account, character=behind)

    assert login_queue_advance(realm=full_realm) == 0


@override_settings(LOGIN_QUEUE_RATE_WINDOW_SECONDS=600)
def test_wait_estimate_is_unknown_until_admissions_were_seen_then_position_over_rate(
    full_realm,
) -> None:
    now = timezone.now()
    assert login_queue_estimated_wait(realm=full_realm, position=5, now=now) is None

    # 6 admissions over the last 300 s: 1 per 50 s
    for minutes_ago in range(6):
        character = CharacterFactory(realm=full_realm)
        LoginQueueEntry.objects.create(
            realm=full_realm,
            account=character.account,
            character=character,
            status=QueueStatus.CLAIMED,
            admitted_at=now - timedelta(seconds=300 - 60 * minutes_ago),
        )

    assert login_queue_estimated_wait(realm=full_realm, position=5, now=now) == 250
    assert login_queue_estimated_wait(realm=full_realm, position=0, now=now) == 0
    # admissions older than the window no longer count
    assert (
        login_queue_estimated_wait(realm=full_realm, position=5, now=now + timedelta(hours=1))
        is None
    )


def test_queued_answer_carries_the_estimate_and_poll_interval(full_realm) -> None:
    outcome = join(CharacterFactory(realm=full_realm))

    assert outcome.estimated_wait_seconds is None  # nothing observed yet: no made-up number
    assert outcome.poll_after_seconds == 10
