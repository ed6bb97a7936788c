"""Reconciliation: prove that stored balances and item counts equal their history.

Checks (each a grouped SQL aggregate, so a run is a handful of queries):

1. ``wallet_balance``: every wallet's balance equals the sum of its postings.
2. ``wallet_negative``: no player or system wallet is below zero.
3. ``transaction_unbalanced``: every ledger transaction's postings sum to zero per currency.
4. ``posting_currency``: every posting is in its wallet's currency.
5. ``item_quantity``: every item row's quantity equals the sum of its movement deltas.
6. ``item_transaction_unbalanced``: inside a transaction, item movements that do not come from
   the mint sum to zero per definition (splits, merges, trades create or lose nothing).
7. ``item_over_stack``: no row holds more than its definition's stack size (a duplicated unique
   item shows up here as quantity 2).

A mismatch is an alert: logged at ERROR with the rows, counted in the metrics, and stored as a
``ReconciliationRun`` with ``ok=False`` that lists exactly the offending rows.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from economy.catalog import get_catalog
from economy.models import (
    ItemInstance,
    ItemMovement,
    LedgerPosting,
    MovementPlace,
    ReconciliationRun,
    Wallet,
    WalletKind,
)
from mmo_platform import metrics

logger = logging.getLogger("economy.reconciliation")


@dataclass(frozen=True)
class Mismatch:
    check: str
    object_id: int | str
    expected: Any
    actual: Any
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReconciliationReport:
    run_id: int | None = None
    checked: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "checked": self.checked,
            "mismatches": [asdict(m) for m in self.mismatches],
        }


def _sum_of(queryset: Any, field_name: str) -> Coalesce:
    return Coalesce(Subquery(queryset.annotate(total=Sum(field_name)).values("total")), Value(0))


def _check_wallets(report: ReconciliationReport) -> None:
    postings = LedgerPosting.objects.filter(wallet=OuterRef("pk")).order_by().values("wallet")
    wallets = Wallet.objects.annotate(posted=_sum_of(postings, "amount"))
    report.checked["wallets"] = Wallet.objects.count()
    for wallet in wallets.exclude(balance=F("posted")).order_by("pk"):
        report.mismatches.append(
            Mismatch(
                check="wallet_balance",
                object_id=wallet.pk,
                expected=wallet.posted,
                actual=wallet.balance,
                details={"wallet": wallet.label, "currency": wallet.currency},
            )
        )
    negative = Wallet.objects.exclude(kind=WalletKind.ISSUER).filter(balance__lt=0).order_by("pk")
    for below_zero in negative:
        report.mismatches.append(
            Mismatch(
                "wallet_negative",
                below_zero.pk,
                ">= 0",
                below_zero.balance,
                {"wallet": below_zero.label},
            )
        )


def _check_transactions(report: ReconciliationReport) -> None:
    report.checked["postings"] = LedgerPosting.objects.count()
    unbalanced = (
        LedgerPosting.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id", "currency")
    )
    for row in unbalanced:
        report.mismatches.append(
            Mismatch(
                "transaction_unbalanced",
                row["transaction_id"],
                0,
                row["total"],
                {"currency": row["currency"]},
            )
        )
    wrong_currency = LedgerPosting.objects.exclude(currency=F("wallet__currency")).order_by("pk")
    for posting in wrong_currency.select_related("wallet"):
        report.mismatches.append(
            Mismatch(
                "posting_currency",
                posting.pk,
                posting.wallet.currency,
                posting.currency,
                {"transaction": posting.transaction_id},
            )
        )


def _check_items(report: ReconciliationReport) -> None:
    movements = ItemMovement.objects.filter(item=OuterRef("pk")).order_by().values("item")
    items = ItemInstance.objects.annotate(moved=_sum_of(movements, "delta"))
    report.checked["items"] = ItemInstance.objects.count()
    for item in items.exclude(quantity=F("moved")).order_by("pk"):
        report.mismatches.append(
            Mismatch(
                "item_quantity",
                item.pk,
                item.moved,
                item.quantity,
                {"definition": item.definition_id, "owner": item.owner_id, "place": item.place},
            )
        )
    report.checked["movements"] = ItemMovement.objects.count()
    unbalanced = (
        ItemMovement.objects.filter(~Q(from_place=MovementPlace.MINT))
        .values("transaction_id", "definition_id")
        .annotate(total=Sum("delta"))
        .exclude(total=0)
        .order_by("transaction_id", "definition_id")
    )
    for row in unbalanced:
        report.mismatches.append(
            Mismatch(
                "item_transaction_unbalanced",
                row["transaction_id"],
                0,
                row["total"],
                {"definition": row["definition_id"]},
            )
        )
    stack_sizes = {item.id: item.stack_size for item in get_catalog().items.values()}
    over = ItemInstance.objects.filter(quantity__gt=1).values_list(
        "pk", "definition_id", "quantity"
    )
    for pk, definition_id, quantity in over.order_by("pk").iterator():
        limit = stack_sizes.get(definition_id)
        if limit is not None and quantity > limit:
            report.mismatches.append(
                Mismatch(
                    "item_over_stack", pk, f"<= {limit}", quantity, {"definition": definition_id}
                )
            )


def economy_reconcile() -> ReconciliationReport:
    """Run every check, store the run, alert on mismatches. Read-only apart from the run row,
    so it is safe to repeat at any time (Celery: ``economy.tasks.reconcile_economy``)."""
    run = ReconciliationRun.objects.create(started_at=timezone.now())
    report = ReconciliationReport(run_id=run.pk)
    _check_wallets(report)
    _check_transactions(report)
    _check_items(report)
    run.finished_at = timezone.now()
    run.ok = report.ok
    run.mismatch_count = len(report.mismatches)
    run.checked = report.checked
    run.mismatches = [asdict(m) for m in report.mismatches]
    run.save()
    metrics.RECONCILIATION_MISMATCHES.set(len(report.mismatches))
    metrics.RECONCILIATION_LAST_RUN_TIMESTAMP.set(run.finished_at.timestamp())
    if not report.ok:
        logger.error(
            "economy reconciliation run %s found %d mismatch(es): %s",
            run.pk,
            len(report.mismatches),
            run.mismatches[:50],
        )
    else:
        logger.info("economy reconciliation run %s clean: %s", run.pk, report.checked)
    return report
