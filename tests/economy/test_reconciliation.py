"""Reconciliation proves balances and item counts equal the history, and on a deliberately
corrupted row reports exactly that row (and alerts)."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from characters.models import Character
from economy.models import ItemInstance, LedgerPosting, ReconciliationRun, Wallet
from economy.services import economy_reconcile, shop_purchase
from economy.tasks import reconcile_economy
from tests.economy.conftest import Give

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_economy(hero: Character, other: Character, give: Give) -> None:
    give(hero, gold=500, gems=100, items=[("iron_sword", 1), ("minor_healing_potion", 15)])
    give(other, gold=200, items=[("wolf_pelt", 30)])
    shop_purchase(
        user=hero.account, character=hero, offer_id="potion_pack", quantity=1, idempotency_key="p"
    )


def _raw(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_clean_economy_reconciles(busy_economy: None) -> None:
    report = economy_reconcile()

    assert report.ok
    assert report.checked["wallets"] >= 4
    run = ReconciliationRun.objects.get(pk=report.run_id)
    assert run.ok and run.mismatch_count == 0 and run.finished_at


def test_corrupted_wallet_balance_is_reported_exactly(
    busy_economy: None, hero: Character, caplog: pytest.LogCaptureFixture
) -> None:
    # given one player wallet whose balance was changed behind the ledger's back
    wallet = Wallet.objects.get(character=hero, currency="gold")
    _raw("UPDATE economy_wallet SET balance = balance + 1000 WHERE id = %s", [wallet.pk])

    # when reconciling
    with caplog.at_level(logging.ERROR, logger="economy.reconciliation"):
        report = economy_reconcile()

    # then exactly that row is reported, with what the ledger says and what the row says
    assert [(m.check, m.object_id) for m in report.mismatches] == [("wallet_balance", wallet.pk)]
    mismatch = report.mismatches[0]
    assert mismatch.actual == mismatch.expected + 1000
    run = ReconciliationRun.objects.get(pk=report.run_id)
    assert not run.ok and run.mismatch_count == 1
    assert run.mismatches[0]["object_id"] == wallet.pk
    assert any("mismatch" in record.message for record in caplog.records)


def test_corrupted_item_quantity_is_reported_exactly(busy_economy: None, other: Character) -> None:
    pelts = ItemInstance.objects.get(owner=other, definition_id="wolf_pelt")
    _raw("UPDATE economy_iteminstance SET quantity = quantity + 5 WHERE id = %s", [pelts.pk])

    report = economy_reconcile()

    assert [(m.check, m.object_id, m.expected, m.actual) for m in report.mismatches] == [
        ("item_quantity", pelts.pk, 30, 35)
    ]


def test_duplicated_unique_item_is_reported(busy_economy: None, hero: Character) -> None:
    sword = ItemInstance.objects.get(owner=hero, definition_id="iron_sword")
    _raw("UPDATE economy_iteminstance SET quantity = 2 WHERE id = %s", [sword.pk])

    checks = {(m.check, m.object_id) for m in economy_reconcile().mismatches}

    assert checks == {("item_quantity", sword.pk), ("item_over_stack", sword.pk)}


def test_unbalanced_transaction_is_reported(busy_economy: None, hero: Character) -> None:
    posting = LedgerPosting.objects.filter(wallet__character=hero).order_by("pk").first()
    assert posting is not None
    _raw(
        "UPDATE economy_ledgerposting SET amount = amount + 1 WHERE id = %s",
        [posting.pk],
    )

    checks = {(m.check, m.object_id) for m in economy_reconcile().mismatches}

    assert ("transaction_unbalanced", posting.transaction_id) in checks
    assert ("wallet_balance", posting.wallet_id) in checks


def test_celery_task_runs_the_reconciliation(busy_economy: None) -> None:
    result = reconcile_economy.delay().get()

    assert result["ok"] is True
    assert ReconciliationRun.objects.filter(pk=result["run_id"]).exists()
