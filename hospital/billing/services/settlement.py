"""Settle payments from verified provider notifications and from provider queries."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.billing.models import (
    LedgerKind,
    NotificationOutcome,
    Order,
    OrderStatus,
    Payment,
    PaymentSource,
    PaymentStatus,
    ProviderNotification,
    RefundKind,
)
from hospital.billing.providers.base import (
    NotForUs,
    NotificationHeaders,
    ProviderReport,
    ProviderUnavailable,
    SignatureError,
)
from hospital.billing.providers.registry import UnknownProvider, payment_provider
from hospital.billing.services.ledger import _config, _ledger, _locked_order
from hospital.billing.services.payments import _mark_paid, _provider, _refund_stray_payment
from hospital.db import db, execute_dml

log = logging.getLogger("hospital.billing")


@dataclass(frozen=True)
class NotificationResult:
    accepted: bool
    refused: bool  # the signature did not verify
    outcome: NotificationOutcome
    reason: str = ""


def handle_notification(
    provider_name: str, headers: NotificationHeaders, body: bytes, *, now: datetime
) -> NotificationResult:
    """Verify a provider's notification, then settle the payment it reports (at most once)."""
    provider = _provider(provider_name)
    digest = hashlib.sha256(body).hexdigest()
    try:
        report = provider.verify_notification(headers, body, now=now)
    except SignatureError as exc:
        log.warning("refused %s notification: %s", provider_name, exc)
        # Written through the audit log so the entry survives the refused request's rollback.
        record(
            action="billing.notification_refused",
            outcome="denied",
            detail={"provider": provider_name, "reason": str(exc), "body_sha256": digest},
        )
        return NotificationResult(False, True, NotificationOutcome.REFUSED, str(exc))
    except NotForUs as exc:
        return _ignored(provider_name, None, digest, str(exc), now=now)
    payment = db.session.scalar(
        sa.select(Payment).where(
            Payment.provider == provider.name, Payment.out_trade_no == report.out_trade_no
        )
    )
    if payment is None:
        return _ignored(provider_name, report, digest, "unknown out_trade_no", now=now)
    if report.amount_fen != payment.amount_fen or (
        report.currency is not None and report.currency != payment.currency
    ):
        return _ignored(provider_name, report, digest, "amount does not match", payment, now=now)
    outcome = _apply_report(payment, report, now=now)
    _log_notification(provider_name, report, digest, outcome, "", payment.hospital_id, now=now)
    return NotificationResult(True, False, outcome)


def _ignored(
    provider_name: str,
    report: ProviderReport | None,
    digest: str,
    reason: str,
    payment: Payment | None = None,
    *,
    now: datetime,
) -> NotificationResult:
    log.warning(
        "ignored %s notification for %s: %s",
        provider_name,
        report.out_trade_no if report else "?",
        reason,
    )
    hospital_id = payment.hospital_id if payment is not None else None
    _log_notification(
        provider_name, report, digest, NotificationOutcome.IGNORED, reason, hospital_id, now=now
    )
    return NotificationResult(False, False, NotificationOutcome.IGNORED, reason)


def _log_notification(
    provider_name: str,
    report: ProviderReport | None,
    digest: str,
    outcome: NotificationOutcome,
    reason: str,
    hospital_id: int | None,
    *,
    now: datetime,
) -> None:
    db.session.add(
        ProviderNotification(
            hospital_id=hospital_id,
            provider=provider_name,
            received_at=now,
            outcome=outcome,
            reason=reason[:200],
            out_trade_no=(report.out_trade_no if report else "")[:64],
            provider_txn_id=(report.provider_txn_id if report else "")[:64],
            body_sha256=digest,
        )
    )
    db.session.flush()


def _apply_report(
    payment: Payment, report: ProviderReport, *, now: datetime
) -> NotificationOutcome:
    if report.status == "succeeded":
        return _payment_succeeded(payment, report.provider_txn_id, now=now)
    if report.status == "failed":
        changed = execute_dml(
            sa.update(Payment)
            .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
            .values(status=PaymentStatus.FAILED, completed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(payment)
        if not changed:
            return NotificationOutcome.DUPLICATE
        order = db.session.get(Order, payment.order_id)
        assert order is not None
        _ledger(
            order,
            LedgerKind.PAYMENT_FAILED,
            now=now,
            payment=payment,
            dedupe_key=f"payment-failed:{payment.id}",
        )
        return NotificationOutcome.ACCEPTED
    return NotificationOutcome.DUPLICATE  # still pending: nothing to do yet


def _payment_succeeded(payment: Payment, txn_id: str, *, now: datetime) -> NotificationOutcome:
    if not txn_id:
        raise ValueError("a successful payment needs the provider's transaction id")
    # The one statement that decides who records the success: concurrent or repeated
    # notifications find the row already succeeded and change nothing.
    won = execute_dml(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status != PaymentStatus.SUCCEEDED)
        .values(status=PaymentStatus.SUCCEEDED, provider_txn_id=txn_id, completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if not won:
        return NotificationOutcome.DUPLICATE
    order = _locked_order(payment.order_id)
    _ledger(
        order,
        LedgerKind.PAYMENT_SUCCEEDED,
        now=now,
        amount_fen=payment.amount_fen,
        payment=payment,
        dedupe_key=f"payment-succeeded:{payment.id}",
        detail={"provider": payment.provider, "txn": txn_id},
    )
    fits = (
        order.status == OrderStatus.PENDING
        and payment.amount_fen == order.cash_fen
        and payment.currency == order.currency
    )
    if not fits:
        # Paid twice, paid after the order lapsed, or for an amount that is no longer due.
        late = order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
        _refund_stray_payment(
            order,
            payment,
            kind=RefundKind.LATE_PAYMENT if late else RefundKind.DUPLICATE_PAYMENT,
            now=now,
        )
        return NotificationOutcome.ACCEPTED
    payer = db.session.get(Account, payment.payer_account_id) if payment.payer_account_id else None
    _mark_paid(order, payment, now=now, payer=payer)
    return NotificationOutcome.ACCEPTED


def reconcile_pending_payments(*, now: datetime, older_than: timedelta | None = None) -> int:
    """Ask providers about payments pending longer than N minutes; settle each once."""
    if older_than is None:
        older_than = timedelta(minutes=int(_config("RECONCILE_AFTER_MINUTES", 5)))
    pending = db.session.scalars(
        sa.select(Payment)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.source == PaymentSource.SELF_PAY,
            Payment.created_at <= now - older_than,
        )
        .order_by(Payment.created_at)
        .limit(200)
    ).all()
    settled = 0
    for payment in pending:
        try:
            provider = payment_provider(payment.provider, current_app.config)
            report = provider.query(payment.out_trade_no, now=now)
        except (UnknownProvider, ProviderUnavailable) as exc:
            log.warning("could not query %s payment %s: %s", payment.provider, payment.id, exc)
            continue
        if report is None:
            if payment.created_at <= now - timedelta(days=1):
                payment.status = PaymentStatus.CANCELLED
                payment.completed_at = now
            continue
        if report.amount_fen != payment.amount_fen:
            log.error("provider reports another amount for payment %s; not settled", payment.id)
            continue
        if _apply_report(payment, report, now=now) is NotificationOutcome.ACCEPTED:
            settled += 1
    db.session.flush()
    return settled
