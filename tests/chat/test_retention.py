"""Chat history retention: the purge service, its Celery task (eager) and its schedule row."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from characters.models import Character
from chat import tasks
from chat.models import ChatMessage
from chat.services import chat_history_purge
from liveops.schedules import ops_schedules_ensure
from tests.characters.factories import CharacterFactory
from tests.chat.factories import chat_message_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def speaker() -> Character:
    return CharacterFactory(name="Speaker")


@pytest.fixture(autouse=True)
def retention(settings: Any) -> None:
    settings.CHAT_HISTORY_RETENTION_DAYS = 30


def texts() -> list[str]:
    return sorted(ChatMessage.objects.values_list("text", flat=True))


def test_purge_deletes_only_lines_older_than_the_window(speaker: Character) -> None:
    # given lines on both sides of the 30-day window
    for days in (45, 31, 30.01):
        chat_message_create(speaker, text=f"old {days}", days_ago=days)
    for days in (29.99, 3, 0):
        chat_message_create(speaker, text=f"new {days}", days_ago=days)
    # when
    report = chat_history_purge()
    # then
    assert report.deleted == 3 and report.complete
    assert texts() == ["new 0", "new 29.99", "new 3"]
    assert timezone.now() - report.cutoff == pytest.approx(timedelta(days=30), abs=timedelta(1))


def test_purge_works_in_batches_and_a_bounded_run_leaves_the_rest_for_the_next(
    speaker: Character, django_assert_max_num_queries: Any
) -> None:
    for number in range(7):
        chat_message_create(speaker, text=f"old {number}", days_ago=40 + number)
    chat_message_create(speaker, text="recent", days_ago=1)
    deletes: list[int] = []
    real_delete = QuerySet.delete

    def counting_delete(queryset: QuerySet[Any]) -> tuple[int, dict[str, int]]:
        result = real_delete(queryset)
        deletes.append(result[0])
        return result

    # when: batches of 3, at most 2 batches per run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QuerySet, "delete", counting_delete)
        first = chat_history_purge(batch_size=3, max_batches=2)
        second = chat_history_purge(batch_size=3, max_batches=2)
    # then: the oldest go first, each batch is its own small delete
    assert (first.deleted, first.complete) == (6, False)
    assert (second.deleted, second.complete) == (1, True)
    assert deletes == [3, 3, 1]
    assert texts() == ["recent"]


def test_task_is_idempotent_and_reports_what_it_deleted(speaker: Character) -> None:
    chat_message_create(speaker, text="ancient", days_ago=90)
    chat_message_create(speaker, text="today")
    first = tasks.purge_chat_history.apply().get()
    again = tasks.purge_chat_history.apply().get()
    assert (first["deleted"], first["complete"]) == (1, True)
    assert again["deleted"] == 0
    assert texts() == ["today"]


def test_retention_window_comes_from_settings(speaker: Character, settings: Any) -> None:
    settings.CHAT_HISTORY_RETENTION_DAYS = 7
    chat_message_create(speaker, text="eight days", days_ago=8)
    chat_message_create(speaker, text="six days", days_ago=6)
    assert tasks.purge_chat_history.apply().get()["deleted"] == 1
    assert texts() == ["six days"]


@pytest.mark.django_db(transaction=True)
def test_task_retries_a_database_error_and_then_purges(
    speaker: Character, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a database that fails the first attempt
    chat_message_create(speaker, text="ancient", days_ago=90)
    real_purge = tasks.chat_history_purge
    attempts: list[int] = []

    def flaky_purge(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_purge(**kwargs)

    monkeypatch.setattr(tasks, "chat_history_purge", flaky_purge)
    # when (throw=False: eager apply() only re-runs a retry when it does not propagate errors)
    result = tasks.purge_chat_history.apply(throw=False)
    # then
    assert result.successful()
    assert len(attempts) == 2
    assert result.get()["deleted"] == 1
    assert texts() == []


def test_task_follows_the_ops_retry_policy() -> None:
    task = tasks.purge_chat_history
    assert task.acks_late is True
    assert task.autoretry_for == (Exception,)
    assert task.retry_backoff is True and task.retry_jitter is True
    assert task.max_retries == 5


def test_schedule_row_runs_the_purge_nightly_at_a_quiet_hour() -> None:
    report = ops_schedules_ensure()
    assert "chat: purge old chat history" in report.created
    row = PeriodicTask.objects.get(name="chat: purge old chat history")
    assert row.task == "chat.purge_chat_history" and row.enabled
    assert row.crontab is not None
    assert (row.crontab.hour, row.crontab.minute, row.crontab.timezone.key) == ("4", "50", "UTC")
