"""Entering the world: the ready answer, the world ticket, takeover of an older session, and the
gateway-side redemption."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.test import override_settings
from django.utils import timezone

from accounts.models import AccountStatus
from accounts.tickets import ticket_consume
from characters.models import Character
from mmo_platform.errors import AccountRestricted, Conflict, NotFound, Unavailable
from tests.characters.factories import CharacterFactory, RealmFactory, ShardFactory
from tests.factories import UserFactory
from worlds.models import Shard, ShardReservation, ShardStatus, WorldSession
from worlds.selectors import world_session_is_current
from worlds.services import (
    account_group_name,
    world_join,
    world_session_disconnected,
    world_ticket_redeem,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shard():
    return ShardFactory(realm=RealmFactory(slug="eldoria"), name="eldoria-1", ws_url="/ws/world/")


@pytest.fixture
def character(shard):
    return CharacterFactory(realm=shard.realm)


@override_settings(WORLD_TICKET_TTL_SECONDS=30)
def test_join_returns_a_single_use_ticket_for_the_chosen_shard(shard, character) -> None:
    outcome = world_join(user=character.account, character_id=character.pk)

    assert (outcome.status, outcome.shard, outcome.ws_url) == ("ready", "eldoria-1", "/ws/world/")
    assert (outcome.realm, outcome.expires_in) == ("eldoria", 30)
    payload = ticket_consume(purpose="world", ticket=outcome.ticket)
    assert payload == {
        "account_id": character.account.pk,
        "character_id": character.pk,
        "shard": "eldoria-1",
        "realm": "eldoria",
        "session_epoch": 1,
    }
    assert ticket_consume(purpose="world", ticket=outcome.ticket) is None
    reservation = ShardReservation.objects.get(account=character.account)
    assert reservation.shard == shard
    character.refresh_from_db()
    assert character.session_epoch == 1


def test_each_join_bumps_the_epoch_and_only_the_latest_is_current(shard, character) -> None:
    account_id = character.account.pk
    world_join(user=character.account, character_id=character.pk)
    world_join(user=character.account, character_id=character.pk)

    assert WorldSession.objects.get(account_id=account_id).epoch == 2
    assert world_session_is_current(account_id=account_id, epoch=2)
    assert not world_session_is_current(account_id=account_id, epoch=1)
    assert not world_session_is_current(account_id=UserFactory().pk, epoch=2)


def test_second_join_sends_takeover_with_the_new_epoch_to_the_account_group(
    shard, character, django_capture_on_commit_callbacks
) -> None:
    account = character.account
    other = CharacterFactory(account=account, realm=shard.realm)
    world_join(user=account, character_id=character.pk)  # the session to be taken over

    def join_again() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            world_join(user=account, character_id=other.pk)

    # given a gateway connection subscribed to the account's group, when the account joins again
    message = async_to_sync(_join_and_listen)(account_group_name(account.pk), join_again)

    # then the older session is told it was taken over, after commit, with the new epoch
    assert message == {"type": "session.takeover", "epoch": 2, "character_id": other.pk}


def test_takeover_message_is_sent_only_after_commit(shard, character) -> None:
    # The test transaction never commits, so without running on_commit nothing may arrive.
    def join() -> None:
        world_join(user=character.account, character_id=character.pk)

    with pytest.raises(TimeoutError):
        async_to_sync(_join_and_listen)(account_group_name(character.account.pk), join)


def test_connected_player_takes_over_on_the_same_shard_even_when_it_is_full(
    shard, character
) -> None:
    first = world_join(user=character.account, character_id=character.pk)
    world_ticket_redeem(ticket=first.ticket)
    shard.population = shard.capacity  # the player counts in the population now
    shard.save()

    second = world_join(user=character.account, character_id=character.pk)

    assert (second.status, second.shard) == ("ready", shard.name)


def test_another_players_character_is_not_found(shard, character) -> None:
    with pytest.raises(NotFound):
        world_join(user=UserFactory(), character_id=character.pk)
    assert not WorldSession.objects.exists()


def test_deleted_character_cannot_enter(shard) -> None:
    character = CharacterFactory(realm=shard.realm, deleted_at=timezone.now())

    with pytest.raises(Conflict) as excinfo:
        world_join(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "character_deleted"


def test_closed_realm_refuses_entry(shard, character) -> None:
    shard.realm.is_open = False
    shard.realm.save()

    with pytest.raises(Unavailable) as excinfo:
        world_join(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "realm_closed"


def test_realm_without_a_healthy_shard_is_unavailable_not_queued(shard, character) -> None:
    shard.status = "maintenance"
    shard.save()

    with pytest.raises(Unavailable) as excinfo:
        world_join(user=character.account, character_id=character.pk)

    assert excinfo.value.code == "realm_unavailable"


def test_restricted_account_cannot_enter(shard) -> None:
    user = UserFactory(status=AccountStatus.BANNED, status_reason="gold selling")
    character = CharacterFactory(account=user, realm=shard.realm)

    with pytest.raises(AccountRestricted):
        world_join(user=user, character_id=character.pk)


# --- Gateway side ------------------------------------------------------------------------------


def test_redeem_marks_the_session_connected_and_the_slot_redeemed(shard, character) -> None:
    outcome = world_join(user=character.account, character_id=character.pk)

    entry = world_ticket_redeem(ticket=outcome.ticket, shard_name="eldoria-1")

    assert entry is not None
    assert (entry.account_id, entry.character_id, entry.session_epoch) == (
        character.account.pk,
        character.pk,
        1,
    )
    assert WorldSession.objects.get(account=character.account).is_connected
    assert ShardReservation.objects.get(account=character.account).redeemed_at is not None
    assert world_ticket_redeem(ticket=outcome.ticket) is None  # single use


def test_redeem_refuses_a_ticket_superseded_by_a_newer_join(shard, character) -> None:
    older = world_join(user=character.account, character_id=character.pk)
    world_join(user=character.account, character_id=character.pk)

    assert world_ticket_redeem(ticket=older.ticket) is None


def test_redeem_refuses_a_ticket_for_another_shard(shard, character) -> None:
    outcome = world_join(user=character.account, character_id=character.pk)

    assert world_ticket_redeem(ticket=outcome.ticket, shard_name="frostmere-1") is None


def test_redeem_refuses_when_the_character_was_deleted_or_moved_meanwhile(shard, character) -> None:
    outcome = world_join(user=character.account, character_id=character.pk)
    Character.objects.filter(pk=character.pk).update(account=UserFactory())

    assert world_ticket_redeem(ticket=outcome.ticket) is None


def test_redeem_refuses_an_account_banned_after_the_join(shard, character) -> None:
    outcome = world_join(user=character.account, character_id=character.pk)
    character.account.status = AccountStatus.BANNED
    character.account.save()

    assert world_ticket_redeem(ticket=outcome.ticket) is None


@pytest.mark.parametrize("garbage", ["", "not-a-ticket-but-long-enough-to-look", None])
def test_redeem_refuses_unknown_tickets(garbage) -> None:
    assert world_ticket_redeem(ticket=garbage) is None


def test_disconnect_of_an_old_epoch_does_not_end_the_current_session(shard, character) -> None:
    account_id = character.account.pk
    world_ticket_redeem(ticket=world_join(user=character.account, character_id=character.pk).ticket)
    world_ticket_redeem(ticket=world_join(user=character.account, character_id=character.pk).ticket)

    assert not world_session_disconnected(account_id=account_id, epoch=1)
    assert WorldSession.objects.get(account_id=account_id).is_connected
    assert world_session_disconnected(account_id=account_id, epoch=2)
    assert not WorldSession.objects.get(account_id=account_id).is_connected


def test_expired_reservation_frees_the_slot(shard, character) -> None:
    shard.capacity = 1
    shard.save()
    world_join(user=character.account, character_id=character.pk)
    later = timezone.now() + timedelta(seconds=31)
    shard.last_heartbeat = later
    shard.save()
    other = CharacterFactory(realm=shard.realm)

    assert world_join(user=other.account, character_id=other.pk, now=later).status == "ready"


async def _join_and_listen(group: str, join) -> dict:
    """Subscribe a channel to ``group`` (as the gateway does), run ``join`` in the test's thread
    (its database transaction), and return the first message the channel receives."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await sync_to_async(join)()
    return await asyncio.wait_for(layer.receive(channel), timeout=0.5)


def _dropped_in_world(character: Character) -> None:
    """Entered the world on its shard, then the socket closed: the shard holds the character
    in its reconnect grace. The shard's next heartbeat has ended the slot reservation."""
    account = character.account
    entry = world_ticket_redeem(ticket=world_join(user=account, character_id=character.pk).ticket)
    assert entry is not None
    world_session_disconnected(account_id=account.pk, epoch=entry.session_epoch)
    ShardReservation.objects.all().delete()


@override_settings(WORLD_RECONNECT_GRACE_SECONDS=30)
@pytest.mark.parametrize("status", [ShardStatus.ONLINE, ShardStatus.DRAINING])
def test_rejoin_within_the_grace_goes_back_to_the_shard_holding_the_character(
    shard, character, status: str
) -> None:
    _dropped_in_world(character)
    Shard.objects.filter(pk=shard.pk).update(status=status, population=50)
    ShardFactory(realm=shard.realm, name="eldoria-2", population=0)  # where a new join would go

    outcome = world_join(user=character.account, character_id=character.pk)

    assert outcome.shard == "eldoria-1"


@override_settings(WORLD_RECONNECT_GRACE_SECONDS=30)
def test_rejoin_after_the_grace_or_to_a_shard_in_maintenance_is_routed_like_a_new_join(
    shard, character
) -> None:
    _dropped_in_world(character)
    later = timezone.now() + timedelta(seconds=31)
    Shard.objects.filter(pk=shard.pk).update(population=50, last_heartbeat=later)
    ShardFactory(realm=shard.realm, name="eldoria-2", population=0, last_heartbeat=later)

    assert world_join(user=character.account, character_id=character.pk, now=later).shard == (
        "eldoria-2"
    )
    _dropped_in_world(character)  # now held on eldoria-2
    Shard.objects.filter(name="eldoria-2").update(status=ShardStatus.MAINTENANCE)
    Shard.objects.filter(pk=shard.pk).update(last_heartbeat=timezone.now())

    assert world_join(user=character.account, character_id=character.pk).shard == "eldoria-1"


@override_settings(WORLD_RECONNECT_GRACE_SECONDS=30)
def test_a_draining_shard_takes_back_only_the_character_it_holds(shard, character) -> None:
    # the player rejoined the draining shard; the socket failed before the ticket was used
    _dropped_in_world(character)
    Shard.objects.filter(pk=shard.pk).update(status=ShardStatus.DRAINING, population=50)
    ShardFactory(realm=shard.realm, name="eldoria-2", population=0)
    assert world_join(user=character.account, character_id=character.pk).shard == "eldoria-1"
    assert ShardReservation.objects.filter(account=character.account).exists()  # still live

    assert world_join(user=character.account, character_id=character.pk).shard == "eldoria-1"
    other = CharacterFactory(account=character.account, realm=shard.realm)
    assert world_join(user=character.account, character_id=other.pk).shard == "eldoria-2"
