"""Celery tasks of the economy: thin adapters that take no state and call one service.
Both are idempotent, so ``acks_late`` redelivery after a worker crash is harmless."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from economy.services.mail import mail_return_expired
from economy.services.reconciliation import economy_reconcile
from economy.services.trades import trade_expire_stale


@shared_task(name="economy.tasks.reconcile_economy", acks_late=True)
def reconcile_economy() -> dict[str, Any]:
    """Prove balances and item counts equal the ledger (Celery beat, e.g. hourly)."""
    report = economy_reconcile()
    return {"run_id": report.run_id, "ok": report.ok, "mismatches": len(report.mismatches)}


@shared_task(name="economy.tasks.return_expired_mail", acks_late=True)
def return_expired_mail() -> int:
    """Send unclaimed mail back to its senders (Celery beat, e.g. hourly)."""
    return mail_return_expired()


@shared_task(name="economy.tasks.expire_stale_trades", acks_late=True)
def expire_stale_trades() -> int:
    """Cancel trades left open too long (Celery beat, e.g. every minute)."""
    return trade_expire_stale()
