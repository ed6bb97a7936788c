"""Each ops Celery task run eagerly (task.apply()), including retries and final failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from chat import tasks as chat_tasks
from liveops import ops_services, tasks
from liveops.models import BackupRecord, MetricSample, OpsAlert, RestoreVerification
from mmo_platform import metrics
from mmo_platform.errors import Conflict
from tests.ops.conftest import metric_value
from tests.ops.factories import realm_create, sample_data, shard_create
from worlds.models import Shard, ShardStatus

OPS_TASKS = (
    tasks.flush_world_state_safety_net,
    tasks.backup_database,
    tasks.verify_latest_backup,
    tasks.sample_metrics,
    tasks.detect_stale_shards,
    tasks.rollover_leaderboard_seasons,
    tasks.refresh_builtin_leaderboards,
    chat_tasks.purge_chat_history,
)


@pytest.mark.parametrize("task", OPS_TASKS, ids=lambda t: t.name)
def test_every_ops_task_acks_late_and_retries_with_backoff(task: Any) -> None:
    assert task.acks_late is True
    assert task.autoretry_for == (Exception,)
    assert task.dont_autoretry_for == (Conflict.__mro__[1],)  # DomainError
    assert task.retry_backoff is True
    assert task.retry_jitter is True
    assert task.max_retries == 5


# --- backup_database / verify_latest_backup -----------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_backup_task_takes_a_backup_once_per_interval() -> None:
    sample_data()
    first = tasks.backup_database.apply().get()
    again = tasks.backup_database.apply().get()
    forced = tasks.backup_database.apply(kwargs={"min_interval_seconds": 0}).get()
    assert first["skipped"] is False
    assert again == {"skipped": True, "file": first["file"]}
    assert forced["skipped"] is False
    assert BackupRecord.objects.filter(trigger="scheduled").count() == 2


@pytest.mark.django_db(transaction=True)
def test_backup_task_retries_a_transient_failure_then_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a backup that fails once (the disk was briefly full), then works
    real_create = tasks.backups.backup_create
    calls: list[int] = []

    def flaky_create(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("No space left on device")
        return real_create(**kwargs)

    monkeypatch.setattr(tasks.backups, "backup_create", flaky_create)
    retries_before = metric_value("mmo_celery_task_retries_total", task="liveops.backup_database")
    # when (throw=False: eager apply() only re-runs a retry when it does not propagate errors)
    result = tasks.backup_database.apply(throw=False)
    # then: one retry was scheduled (and, eagerly, run) and the second attempt succeeded
    assert result.successful()
    assert result.get()["skipped"] is False
    assert len(calls) == 2
    assert (
        metric_value("mmo_celery_task_retries_total", task="liveops.backup_database")
        == retries_before + 1
    )


@pytest.mark.django_db(transaction=True)
def test_rollover_task_retries_a_transient_failure_then_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a rollover whose first attempt loses the database connection
    real_rollover = tasks.leaderboard_services.leaderboard_seasons_rollover
    calls: list[int] = []

    def flaky_rollover(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return real_rollover(*args, **kwargs)

    monkeypatch.setattr(tasks.leaderboard_services, "leaderboard_seasons_rollover", flaky_rollover)
    # when
    result = tasks.rollover_leaderboard_seasons.apply(throw=False)
    # then the retry ran and succeeded
    assert result.successful()
    assert result.get()["rolled_over"] == []
    assert len(calls) == 2


@pytest.fixture
def eager_retries_run_to_the_end() -> Any:
    """With task_eager_propagates (the project default) an eager retry chain stops at the second
    Retry; a worker would keep retrying, so mimic it by not propagating during the test."""
    from mmo_platform.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_retries_run_to_the_end")
def test_task_that_keeps_failing_gives_up_after_max_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def always_broken(**kwargs: Any) -> Any:
        calls.append(1)
        raise OSError("pg_dump: connection refused")

    monkeypatch.setattr(tasks.backups, "backup_create", always_broken)
    failures_before = metric_value("mmo_celery_task_failures_total", task="liveops.backup_database")
    result = tasks.backup_database.apply(throw=False)
    assert result.failed()
    assert isinstance(result.result, OSError)
    assert len(calls) == 1 + tasks.backup_database.max_retries
    assert (
        metric_value("mmo_celery_task_failures_total", task="liveops.backup_database")
        == failures_before + 1
    )


@pytest.mark.django_db
def test_domain_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def refused(**kwargs: Any) -> Any:
        calls.append(1)
        raise Conflict("nothing to do twice")

    monkeypatch.setattr(ops_services, "shards_mark_stale", refused)
    result = tasks.detect_stale_shards.apply(throw=False)
    assert isinstance(result.result, Conflict)
    assert len(calls) == 1


def test_retry_is_scheduled_with_a_countdown_when_not_eager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Outside eager mode a failure must schedule a retry (raise Retry), not drop the work.
    monkeypatch.setattr(ops_services, "world_flush_all", _raise_oserror)
    task = tasks.flush_world_state_safety_net
    task.push_request(id="t-1", retries=0, is_eager=False, called_directly=False)
    scheduled: list[dict[str, Any]] = []
    monkeypatch.setattr(
        task, "apply_async", lambda *args, **kwargs: scheduled.append(kwargs) or None
    )
    try:
        with pytest.raises(Retry):
            task.run()
    finally:
        task.pop_request()
    assert scheduled and scheduled[0]["countdown"] >= 0
    assert scheduled[0]["retries"] == 1


def _raise_oserror() -> dict[str, int]:
    raise OSError("shard unreachable")


@pytest.mark.django_db(transaction=True)
def test_verify_task_reports_the_result() -> None:
    failed = tasks.verify_latest_backup.apply().get()
    assert failed["ok"] is False and failed["error"] == "no backup found"
    sample_data()
    tasks.backup_database.apply()
    passed = tasks.verify_latest_backup.apply().get()
    assert passed["ok"] is True
    assert passed["tables_checked"] > 10
    assert RestoreVerification.objects.count() == 2


# --- detect_stale_shards ----------------------------------------------------------------------
@pytest.mark.django_db
def test_detect_stale_shards_marks_only_live_shards_without_heartbeat() -> None:
    # given
    realm = realm_create()
    timeout = 15
    shard_create("fresh", realm=realm, heartbeat_seconds_ago=2, population=5)
    shard_create("dead", realm=realm, heartbeat_seconds_ago=timeout + 5, population=40)
    shard_create(
        "draining-dead", realm=realm, status=ShardStatus.DRAINING, heartbeat_seconds_ago=60
    )
    shard_create("never", realm=realm, heartbeat_seconds_ago=None)
    shard_create(
        "in-maintenance", realm=realm, status=ShardStatus.MAINTENANCE, heartbeat_seconds_ago=600
    )
    marked_before = metric_value("mmo_shards_marked_stale_total")
    # when
    result = tasks.detect_stale_shards.apply().get()
    again = tasks.detect_stale_shards.apply().get()
    # then
    assert sorted(result["marked_offline"]) == ["dead", "draining-dead", "never"]
    assert again["marked_offline"] == []  # idempotent
    statuses = dict(Shard.objects.values_list("name", "status"))
    assert statuses["fresh"] == ShardStatus.ONLINE
    assert statuses["in-maintenance"] == ShardStatus.MAINTENANCE
    dead = Shard.objects.get(name="dead")
    assert dead.status == ShardStatus.OFFLINE
    assert dead.population == 0 and dead.zone_populations == {}
    assert metric_value("mmo_shards_marked_stale_total") == marked_before + 3


# --- flush_world_state_safety_net -------------------------------------------------------------
def test_flush_task_calls_every_registered_world_flush() -> None:
    calls: list[str] = []
    ops_services.world_flush_register("shard-a", lambda: calls.append("a") or 3)
    ops_services.world_flush_register("shard-b", lambda: calls.append("b") or 0)
    try:
        result = tasks.flush_world_state_safety_net.apply().get()
    finally:
        ops_services.world_flush_unregister("shard-a")
        ops_services.world_flush_unregister("shard-b")
    assert sorted(calls) == ["a", "b"]
    assert result["local"] == {"shard-a": 3, "shard-b": 0}


def test_flush_task_with_nothing_registered_does_nothing() -> None:
    assert tasks.flush_world_state_safety_net.apply().get()["local"] == {}


def test_flush_task_retries_when_a_shard_flush_fails() -> None:
    attempts: list[int] = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database is locked")
        return 7

    others: list[int] = []
    ops_services.world_flush_register("flaky", flaky)
    ops_services.world_flush_register("healthy", lambda: others.append(1) or 1)
    try:
        result = tasks.flush_world_state_safety_net.apply(throw=False).get()
    finally:
        ops_services.world_flush_unregister("flaky")
        ops_services.world_flush_unregister("healthy")
    assert len(attempts) == 2
    assert len(others) == 2  # one failing shard does not stop the others from saving
    assert result["local"] == {"flaky": 7, "healthy": 1}


@pytest.mark.redis
def test_flush_task_publishes_a_request_to_shard_processes(settings: Any) -> None:
    import redis

    url = settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    settings.REDIS_URL = url
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()
    pubsub.subscribe(ops_services.WORLD_FLUSH_CHANNEL)
    pubsub.get_message(timeout=1)  # subscribe confirmation
    result = tasks.flush_world_state_safety_net.apply().get()
    message = pubsub.get_message(timeout=2)
    pubsub.close()
    client.close()
    assert result["remote_receivers"] >= 1
    assert message is not None and message["data"] == b"flush"


# --- sample_metrics ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_sample_metrics_sets_control_plane_gauges_and_appends_a_sample() -> None:
    # given
    realm = realm_create()
    shard_create("sm-a", realm=realm, population=12, heartbeat_seconds_ago=4)
    shard_create("sm-b", realm=realm, population=7, status=ShardStatus.OFFLINE)
    tasks.backup_database.apply()
    # when
    values = tasks.sample_metrics.apply().get()
    # then
    assert values["players_online"] == 12  # offline shards' last report does not count
    assert values["backup_age_hours"] is not None and values["backup_age_hours"] < 0.1
    assert values["targets_up"] == values["targets_total"] == 1
    assert MetricSample.objects.count() == 1
    assert 3 <= metric_value("mmo_shard_heartbeat_age_seconds", shard="sm-a") < 60
    assert metric_value("mmo_shard_status", shard="sm-b", status="offline") == 1
    assert metric_value("mmo_shard_status", shard="sm-b", status="online") == 0
    assert metric_value("mmo_shard_reported_population", realm=realm.name, shard="sm-a") == 12
    assert metric_value("mmo_backup_age_seconds") < 60


@pytest.mark.django_db
def test_sample_metrics_without_backups_reports_infinite_age() -> None:
    tasks.sample_metrics.apply()
    assert metric_value("mmo_backup_age_seconds") == float("inf")


@pytest.mark.django_db
def test_second_sample_derives_rates_and_percentiles() -> None:
    # given a first sample, then activity recorded by the world
    now = timezone.now()
    tasks.sample_metrics.apply(kwargs={})
    MetricSample.objects.update(taken_at=now - timedelta(seconds=10))
    metrics.FRAMES_OUT.labels(shard="rate-test").inc(500)
    for _ in range(99):
        metrics.TICK_SECONDS.labels(shard="rate-test").observe(0.004)
    metrics.TICK_SECONDS.labels(shard="rate-test").observe(0.2)
    for _ in range(10):
        metrics.RTT_SECONDS.observe(0.06)
    # when
    values = tasks.sample_metrics.apply().get()
    # then: rates over ~10 s and p99 from the bucket deltas
    assert values["frames_out_per_s"] == pytest.approx(50, rel=0.05)
    assert 2.5 <= values["tick_p99_ms"] <= 5
    assert 50 <= values["rtt_p99_ms"] <= 75


@pytest.mark.django_db
def test_sample_metrics_survives_an_unreachable_target(settings: Any) -> None:
    settings.OPS_METRICS_TARGETS = ["http://127.0.0.1:9/metrics", "ftp://nope"]
    values = tasks.sample_metrics.apply().get()
    assert values["targets_up"] == 0
    assert values["targets_total"] == 2


@pytest.mark.django_db
def test_sample_metrics_prunes_old_samples(settings: Any) -> None:
    settings.OPS_SAMPLE_RETENTION_HOURS = 1
    old = MetricSample.objects.create(values={}, counters={})
    MetricSample.objects.filter(pk=old.pk).update(taken_at=timezone.now() - timedelta(hours=2))
    tasks.sample_metrics.apply()
    assert not MetricSample.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_open_alerts_are_deduplicated_per_key() -> None:
    ops_services.ops_alert_raise(key="k", source="test", message="first")
    ops_services.ops_alert_raise(key="k", source="test", message="second")
    alert = OpsAlert.objects.get(key="k")
    assert alert.occurrences == 2 and alert.message == "second"
    assert ops_services.ops_alert_resolve(key="k") == 1
    ops_services.ops_alert_raise(key="k", source="test", message="third")
    assert OpsAlert.objects.filter(key="k").count() == 2
