"""Leaderboard writes: score submission, season rollover (close → freeze ranks → open the next
aligned season), top-N rewards through the economy, and the refresh of built-in boards.

Score submission is server-side only: game code calls ``leaderboard_submit_score``; no public
endpoint lets a player set a score. Lock order, the same in every use case (so concurrent
writers never deadlock): board row → season row → record rows (by pk) → economy rows (the
economy's own order, ADR 0031). Design notes: docs/decisions/0062-leaderboard-seasons.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from characters.models import Character
from economy.catalog import get_catalog
from economy.models import Currency
from economy.selectors import player_balances
from economy.services import MAX_AMOUNT, MAX_QUANTITY, economy_grant
from liveops.leaderboard_periods import season_period_containing
from liveops.leaderboard_selectors import active_characters, record_ordering
from liveops.models import (
    Leaderboard,
    LeaderboardOperator,
    LeaderboardRecord,
    LeaderboardReset,
    LeaderboardScope,
    LeaderboardSeason,
    LeaderboardSortOrder,
    LeaderboardSource,
    RewardState,
    SeasonStatus,
)
from mmo_platform.errors import Conflict, DomainError, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

# Scores are BIGINT; keeping well inside it means an ``incr`` can never overflow the column.
SCORE_LIMIT = 2**62
MAX_REWARDED_RANK = 1000
CLOSE_REASON_MAX_LENGTH = 2000


# --- board definitions ------------------------------------------------------------------------


def leaderboard_definition_check(board: Leaderboard) -> None:
    """Refuse a board definition the services could not run (admin form, demo data)."""
    if board.source != LeaderboardSource.SUBMITTED and board.operator != LeaderboardOperator.SET:
        raise ValidationFailed(
            "Built-in boards are snapshots of existing data: their operator must be 'set'.",
            code="invalid_operator",
        )
    rewards_validate(board.rewards)


def rewards_validate(rewards: Any) -> None:
    """``rewards`` is a list of tiers ``{"ranks": [first, last], "currency": "gold",
    "amount": 100, "items": [["item_id", quantity], ...]}``; tiers must not overlap."""
    if not isinstance(rewards, list):
        raise ValidationFailed("Rewards must be a list of tiers.", code="invalid_rewards")
    taken: set[int] = set()
    for index, tier in enumerate(rewards, start=1):
        where = f"Reward tier {index}"
        if not isinstance(tier, dict) or not set(tier) <= {"ranks", "currency", "amount", "items"}:
            raise ValidationFailed(
                f"{where}: use the keys ranks, currency, amount, items.", code="invalid_rewards"
            )
        first, last = _tier_ranks(tier, where)
        if taken & set(range(first, last + 1)):
            raise ValidationFailed(f"{where} overlaps another tier.", code="invalid_rewards")
        taken |= set(range(first, last + 1))
        _tier_payload_check(tier, where)


def _tier_ranks(tier: dict[str, Any], where: str) -> tuple[int, int]:
    ranks = tier.get("ranks")
    if (
        not isinstance(ranks, list)
        or len(ranks) != 2
        or not all(type(rank) is int for rank in ranks)
        or not 1 <= ranks[0] <= ranks[1] <= MAX_REWARDED_RANK
    ):
        raise ValidationFailed(
            f"{where}: ranks must be [first, last] with 1 ≤ first ≤ last ≤ {MAX_REWARDED_RANK}.",
            code="invalid_rewards",
        )
    return ranks[0], ranks[1]


def _tier_payload_check(tier: dict[str, Any], where: str) -> None:
    currency, amount, items = tier.get("currency"), tier.get("amount"), tier.get("items", [])
    if currency is None and not items:
        raise ValidationFailed(f"{where} grants nothing.", code="invalid_rewards")
    if currency is not None and (
        currency not in Currency.values or type(amount) is not int or not 0 < amount <= MAX_AMOUNT
    ):
        raise ValidationFailed(
            f"{where}: currency must be one of {', '.join(Currency.values)} with a whole "
            f"amount from 1 to {MAX_AMOUNT} (what a grant can pay).",
            code="invalid_rewards",
        )
    if currency is None and amount is not None:
        raise ValidationFailed(f"{where}: amount needs a currency.", code="invalid_rewards")
    catalog = get_catalog().items
    if not isinstance(items, list) or not all(
        isinstance(item, list)
        and len(item) == 2
        and item[0] in catalog
        and type(item[1]) is int
        and 0 < item[1] <= MAX_QUANTITY
        for item in items
    ):
        raise ValidationFailed(
            f"{where}: items must be [[item_id, quantity], ...] with known item ids and "
            f"quantities from 1 to {MAX_QUANTITY}.",
            code="invalid_rewards",
        )


def reward_tier_for_rank(rewards: list[dict[str, Any]], rank: int | None) -> dict[str, Any] | None:
    if rank is None:
        return None
    for tier in rewards:
        first, last = tier["ranks"]
        if first <= rank <= last:
            return tier
    return None


# --- score submission -------------------------------------------------------------------------


def leaderboard_submit_score(
    *,
    board_key: str,
    character: Character,
    score: int,
    subscore: int = 0,
    now: datetime | None = None,
) -> LeaderboardRecord:
    """Apply the board's operator (best / set / incr) to ``character``'s record in the current
    season, in one transaction holding the record's row lock. A season that has ended is rolled
    over first, so a late score never lands in a finished season."""
    now = now or timezone.now()
    board = _board_accepting_scores(board_key)
    _check_score(score, "score")
    _check_score(subscore, "subscore")
    if character.deleted_at is not None or character.purged_at is not None:
        raise Conflict("This character is deleted.", code="character_deleted")
    for _attempt in range(3):
        season = season_current_or_open(board=board, now=now)
        with transaction.atomic():
            if not _season_hold(season.pk):
                continue  # closed by a concurrent rollover since we read it: use the next one
            return _record_apply(board, season, character, score, subscore, now)
    raise Conflict("The season is changing right now; try again.", code="season_changing")


def _board_accepting_scores(board_key: str) -> Leaderboard:
    board = Leaderboard.objects.filter(key=board_key).first()
    if board is None:
        raise NotFound(f"Unknown leaderboard {board_key!r}.", code="unknown_leaderboard")
    if not board.enabled:
        raise Conflict(f"Leaderboard {board_key!r} is disabled.", code="leaderboard_disabled")
    if board.source != LeaderboardSource.SUBMITTED:
        raise Conflict(
            f"Leaderboard {board_key!r} is fed from game data; scores cannot be submitted.",
            code="leaderboard_builtin",
        )
    return board


def _check_score(value: Any, name: str) -> None:
    if type(value) is not int or not -SCORE_LIMIT < value < SCORE_LIMIT:
        raise ValidationFailed(f"The {name} must be a whole number below 2^62.", code="bad_score")


def _season_hold(season_id: int) -> bool:
    """Hold the season open for the rest of our transaction; False if it is already closed.

    PostgreSQL: FOR KEY SHARE lets submissions run side by side but makes the rollover's FOR
    UPDATE wait for them (and them for it), so no score lands in a season after its ranks were
    frozen. SQLite serialises writers, so the status check is enough there.
    """
    if connection.vendor != "postgresql":
        return LeaderboardSeason.objects.filter(pk=season_id, status=SeasonStatus.ACTIVE).exists()
    table = LeaderboardSeason._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = %s AND status = %s FOR KEY SHARE",  # noqa: S608
            [season_id, SeasonStatus.ACTIVE.value],
        )
        return cursor.fetchone() is not None


def _record_apply(
    board: Leaderboard,
    season: LeaderboardSeason,
    character: Character,
    score: int,
    subscore: int,
    now: datetime,
) -> LeaderboardRecord:
    lookup = {"season": season, "character": character}
    record = LeaderboardRecord.objects.select_for_update().filter(**lookup).first()
    if record is None:
        try:
            with transaction.atomic():
                return LeaderboardRecord.objects.create(
                    **lookup,
                    realm_id=character.realm_id,
                    score=score,
                    subscore=subscore,
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:  # a concurrent first submission won: apply ours on top of it
            record = LeaderboardRecord.objects.select_for_update().get(**lookup)
    new_score, new_subscore = score_combine(
        operator=board.operator,
        sort_order=board.sort_order,
        current=(record.score, record.subscore),
        submitted=(score, subscore),
    )
    if (new_score, new_subscore) != (record.score, record.subscore):
        record.score, record.subscore, record.updated_at = new_score, new_subscore, now
        record.save(update_fields=["score", "subscore", "updated_at"])
    return record


def score_combine(
    *, operator: str, sort_order: str, current: tuple[int, int], submitted: tuple[int, int]
) -> tuple[int, int]:
    """The record's (score, subscore) after applying ``submitted`` with ``operator``."""
    if operator == LeaderboardOperator.SET:
        return submitted
    if operator == LeaderboardOperator.INCR:
        combined = (current[0] + submitted[0], current[1] + submitted[1])
        _check_score(combined[0], "score")
        _check_score(combined[1], "subscore")
        return combined
    if operator == LeaderboardOperator.BEST:
        if sort_order == LeaderboardSortOrder.ASCENDING:
            return min(current, submitted)
        return max(current, submitted)
    raise ValueError(f"unknown operator {operator!r}")


# --- seasons --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloverOutcome:
    board_key: str
    closed_season: int | None = None
    opened_season: int | None = None


def season_current_or_open(*, board: Leaderboard, now: datetime | None = None) -> LeaderboardSeason:
    """The board's active season; rolls over first when it has ended (or none exists yet)."""
    now = now or timezone.now()
    season = board.seasons.filter(status=SeasonStatus.ACTIVE).first()
    if season is not None and (season.ends_at is None or season.ends_at > now):
        return season
    leaderboard_season_rollover(board=board, now=now)
    return board.seasons.get(status=SeasonStatus.ACTIVE)


def leaderboard_season_rollover(
    *,
    board: Leaderboard,
    now: datetime | None = None,
    close_season_id: int | None = None,
    actor: User | None = None,
    reason: str = "",
) -> RolloverOutcome:
    """If ``board``'s active season has ended (or is ``close_season_id``: a GM's early close),
    close it, freeze its ranks and mark its rewards pending; then open the season of the
    schedule that contains ``now``. One transaction; the board row lock makes concurrent runs
    queue, and the later one finds nothing left to do."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Leaderboard.objects.select_for_update().get(pk=board.pk)
        active = (
            LeaderboardSeason.objects.select_for_update()
            .filter(board=locked, status=SeasonStatus.ACTIVE)
            .first()
        )
        if close_season_id is not None and (active is None or active.pk != close_season_id):
            raise Conflict("This season is already closed.", code="season_closed")
        closed: LeaderboardSeason | None = None
        if active is not None:
            ended = active.ends_at is not None and active.ends_at <= now
            if not (ended or close_season_id is not None):
                return RolloverOutcome(board_key=locked.key)
            _season_close(locked, active, now=now, actor=actor, reason=reason)
            closed = active
        opened = _season_open_next(locked, previous=closed, now=now)
    logger.info(
        "leaderboard %s: closed season %s, opened season %s",
        locked.key,
        closed.number if closed else None,
        opened.number,
    )
    return RolloverOutcome(
        board_key=locked.key,
        closed_season=closed.number if closed else None,
        opened_season=opened.number,
    )


def _season_close(
    board: Leaderboard,
    season: LeaderboardSeason,
    *,
    now: datetime,
    actor: User | None,
    reason: str,
) -> None:
    """Caller holds the board and season locks. An early close ends the season now."""
    if season.ends_at is None or season.ends_at > now:
        # The CHECK wants ends_at > starts_at even for a season closed the instant it opened.
        season.ends_at = max(now, season.starts_at + timedelta(seconds=1))
    season.rewards = board.rewards
    ranked = _ranks_freeze(board, season)
    season.status = SeasonStatus.CLOSED
    season.closed_at = now
    season.closed_by = actor
    season.closed_by_label = actor.get_username() if actor is not None else ""
    season.close_reason = reason
    season.save()
    logger.info("leaderboard %s season %s: froze %d ranks", board.key, season.number, ranked)


def _ranks_freeze(board: Leaderboard, season: LeaderboardSeason) -> int:
    """Write ``final_rank`` (1, 2, 3… per realm on per-realm boards, ties broken like the live
    standings) and mark rewarded ranks pending. Deleted characters are not ranked."""
    ordering = record_ordering(board)
    if board.scope == LeaderboardScope.REALM:
        ordering = ["realm_id", *ordering]
    rows = active_characters(season.records.all()).order_by(*ordering).values_list("pk", "realm_id")
    updates: list[LeaderboardRecord] = []
    rank, realm_of_rank = 0, None
    for pk, realm_id in rows.iterator(chunk_size=2000):
        if board.scope == LeaderboardScope.REALM and realm_id != realm_of_rank:
            rank, realm_of_rank = 0, realm_id
        rank += 1
        rewarded = reward_tier_for_rank(season.rewards, rank) is not None
        state = RewardState.PENDING if rewarded else RewardState.NONE
        updates.append(LeaderboardRecord(pk=pk, final_rank=rank, reward_state=state))
    LeaderboardRecord.objects.bulk_update(updates, ["final_rank", "reward_state"], batch_size=1000)
    return len(updates)


def _season_open_next(
    board: Leaderboard, *, previous: LeaderboardSeason | None, now: datetime
) -> LeaderboardSeason:
    """Open the schedule's period containing ``now`` (missed periods are skipped, not opened
    one by one). After an early close the new season starts where the closed one ended."""
    starts_no_earlier = previous.ends_at if previous is not None and previous.ends_at else now
    moment = max(now, starts_no_earlier)
    starts_at, ends_at = season_period_containing(board.reset_schedule, moment)
    if board.reset_schedule == LeaderboardReset.NEVER or previous is not None:
        starts_at = max(starts_at, starts_no_earlier)
    last_number = board.seasons.aggregate(last=Max("number"))["last"] or 0
    return LeaderboardSeason.objects.create(
        board=board,
        number=last_number + 1,
        starts_at=starts_at,
        ends_at=ends_at,
        status=SeasonStatus.ACTIVE,
    )


def leaderboard_season_close_now(
    *, season: LeaderboardSeason, actor: User, reason: str, now: datetime | None = None
) -> RolloverOutcome:
    """GM console: end ``season`` early (ranks frozen, rewards pending, next season opened).
    The GM and the reason are stored on the season: the audit trail of this action."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "Give a reason for closing the season early.", code="reason_required"
        )
    if len(reason) > CLOSE_REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"The reason is longer than {CLOSE_REASON_MAX_LENGTH} characters.",
            code="reason_too_long",
        )
    outcome = leaderboard_season_rollover(
        board=season.board, now=now, close_season_id=season.pk, actor=actor, reason=reason
    )
    logger.info(
        "GM %s closed leaderboard %s season %s early: %s",
        actor.pk,
        season.board.key,
        season.number,
        reason,
    )
    return outcome


@dataclass
class RolloverReport:
    outcomes: list[RolloverOutcome] = field(default_factory=list)
    rewards_granted: int = 0
    rewards_failed: int = 0


def leaderboard_seasons_rollover(*, now: datetime | None = None) -> RolloverReport:
    """The periodic job: roll over every enabled board whose season has ended, then grant the
    pending top-N rewards. Safe to run concurrently and to retry."""
    now = now or timezone.now()
    report = RolloverReport()
    for board in Leaderboard.objects.filter(enabled=True).order_by("pk"):
        outcome = leaderboard_season_rollover(board=board, now=now)
        if outcome.closed_season is not None or outcome.opened_season is not None:
            report.outcomes.append(outcome)
    report.rewards_granted, report.rewards_failed = leaderboard_rewards_grant_pending()
    return report


# --- rewards --------------------------------------------------------------------------------


def reward_idempotency_key(record: LeaderboardRecord, board: Leaderboard) -> str:
    """One key per (season, rank) — per realm on per-realm boards, where each realm has a #1."""
    realm = record.realm_id if board.scope == LeaderboardScope.REALM else "all"
    return f"leaderboard:{record.season_id}:{realm}:rank:{record.final_rank}"


def leaderboard_rewards_grant_pending(*, limit: int = 500) -> tuple[int, int]:
    """Grant pending rewards of closed seasons through ``economy_grant``; returns (granted,
    failed). The economy's idempotency key makes a retry after a crash grant nothing twice."""
    pending = LeaderboardRecord.objects.filter(
        reward_state=RewardState.PENDING, season__status=SeasonStatus.CLOSED
    ).order_by("pk")
    granted = failed = 0
    for record_id in list(pending.values_list("pk", flat=True)[:limit]):
        state = _reward_grant(record_id)
        granted += state == RewardState.GRANTED
        failed += state == RewardState.FAILED
    return granted, failed


def _reward_grant(record_id: int) -> str | None:
    with transaction.atomic():
        record = (
            LeaderboardRecord.objects.select_for_update(of=("self",))
            .select_related("season__board", "character")
            .filter(pk=record_id, reward_state=RewardState.PENDING)
            .first()
        )
        if record is None:
            return None  # a concurrent run granted it
        board, season = record.season.board, record.season
        tier = reward_tier_for_rank(season.rewards, record.final_rank)
        if tier is None:  # cannot happen: the close marked only ranks its tiers reward
            record.reward_state = RewardState.NONE
        else:
            try:
                result = economy_grant(
                    character=record.character,
                    source="loot",
                    actor=None,
                    reason=f"{board.title}, season {season.number}: rank {record.final_rank}",
                    idempotency_key=reward_idempotency_key(record, board),
                    currency=tier.get("currency"),
                    amount=tier.get("amount") or 0,
                    items=[(item_id, quantity) for item_id, quantity in tier.get("items", [])],
                )
            except DomainError as error:
                record.reward_state, record.reward_error = RewardState.FAILED, error.message[:300]
                logger.warning("leaderboard reward %s failed: %s", record.pk, error.message)
            else:
                record.reward_state = RewardState.GRANTED
                record.reward_transaction_id = result.transaction_id
        record.save(update_fields=["reward_state", "reward_error", "reward_transaction_id"])
        return record.reward_state


# --- built-in boards ------------------------------------------------------------------------


def builtin_scores(source: str) -> dict[int, tuple[int, int, int]]:
    """``{character_id: (realm_id, score, subscore)}`` of every active character for a built-in
    source. Reads only: the wealth board reads balances through the economy's selector."""
    characters = active_characters(Character.objects.all(), field="")
    if source == LeaderboardSource.CHARACTER_LEVEL:
        return {
            pk: (realm_id, level, xp)
            for pk, realm_id, level, xp in characters.values_list("pk", "realm_id", "level", "xp")
        }
    if source == LeaderboardSource.WEALTH_GOLD:
        balances = player_balances(currency=Currency.GOLD)
        return {
            pk: (realm_id, balances.get(pk, 0), 0)
            for pk, realm_id in characters.values_list("pk", "realm_id")
        }
    raise ValueError(f"{source!r} is not a built-in source")


def leaderboard_builtin_refresh(*, now: datetime | None = None) -> dict[str, int]:
    """Snapshot the built-in sources into the current season of each enabled built-in board;
    returns how many records changed per board. Unchanged records keep their ``updated_at``."""
    now = now or timezone.now()
    changed: dict[str, int] = {}
    boards = Leaderboard.objects.filter(enabled=True).exclude(source=LeaderboardSource.SUBMITTED)
    for board in boards.order_by("pk"):
        season = season_current_or_open(board=board, now=now)
        changed[board.key] = _builtin_refresh_board(
            board, season, builtin_scores(board.source), now
        )
    return changed


def _builtin_refresh_board(
    board: Leaderboard,
    season: LeaderboardSeason,
    scores: dict[int, tuple[int, int, int]],
    now: datetime,
) -> int:
    with transaction.atomic():
        # The board lock queues us behind a rollover (and a concurrent refresh) of this board.
        Leaderboard.objects.select_for_update().get(pk=board.pk)
        if not LeaderboardSeason.objects.filter(pk=season.pk, status=SeasonStatus.ACTIVE).exists():
            return 0  # rolled over meanwhile: the next refresh fills the new season
        existing = {record.character_id: record for record in season.records.all()}
        created, updated = [], []
        for character_id, (realm_id, score, subscore) in scores.items():
            record = existing.get(character_id)
            if record is None:
                created.append(
                    LeaderboardRecord(
                        season=season,
                        character_id=character_id,
                        realm_id=realm_id,
                        score=score,
                        subscore=subscore,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif (record.score, record.subscore, record.realm_id) != (score, subscore, realm_id):
                record.score, record.subscore, record.realm_id = score, subscore, realm_id
                record.updated_at = now
                updated.append(record)
        LeaderboardRecord.objects.bulk_create(created, batch_size=1000)
        LeaderboardRecord.objects.bulk_update(
            updated, ["score", "subscore", "realm_id", "updated_at"], batch_size=1000
        )
    return len(created) + len(updated)
