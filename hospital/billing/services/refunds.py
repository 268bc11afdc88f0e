"""Refund what was paid, back to each source, and submit refunds to the provider."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.billing.models import (
    AccountSource,
    LedgerKind,
    Order,
    OrderStatus,
    Payment,
    PaymentSource,
    Refund,
    RefundKind,
    RefundStatus,
)
from hospital.billing.pricing import split_refund
from hospital.billing.providers.base import ProviderUnavailable
from hospital.billing.providers.registry import UnknownProvider, insurance_adapter, payment_provider
from hospital.billing.services import accounts
from hospital.billing.services.ledger import CASHIER_ROLES, _get_order, _ledger, _locked_order
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.events import refund_issued
from hospital.money import format_fen
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission
from hospital.patients.models import Patient

log = logging.getLogger("hospital.billing")


REFUND_SUBMIT_ATTEMPTS = 8

# Where a refund's money goes: the two payment sources and the two insurance accounts.
REFUND_SOURCES = (
    *(s.value for s in PaymentSource),
    *(f"{s.value}_account" for s in AccountSource),
)


# The messages _tell_patient sends; hospital.billing.wiring.connect registers them.
MESSAGE_TEMPLATES = {
    "billing.refunded": MessageTemplate(
        subject=_l("Refund of {amount}"),
        body=_l(
            "{hospital}: {amount} for order {order} is being refunded to where it was paid from. "
            "Reason: {reason}."
        ),
    ),
    "billing.late_payment_refunded": MessageTemplate(
        subject=_l("Payment refunded: the reservation had lapsed"),
        body=_l(
            "{hospital}: your payment of {amount} for order {order} arrived after the reservation "
            "had lapsed or the slot was taken. It is refunded in full; please book again."
        ),
    ),
}

_REFUND_REASONS = {
    RefundKind.POLICY: _l("appointment cancelled"),
    RefundKind.HOSPITAL_CANCELLED: _l("the hospital cancelled the session"),
    RefundKind.LATE_PAYMENT: _l("payment arrived after the reservation lapsed"),
    RefundKind.DUPLICATE_PAYMENT: _l("the order was already paid"),
}


def refund_order(
    order_id: int,
    *,
    actor: Account | None,
    amount_fen: int | None,
    kind: RefundKind,
    reason: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> list[Refund]:
    """Refund part or all of what was paid, back to each source in proportion."""
    if actor is not None:
        if not actor.has_role(*CASHIER_ROLES):
            raise Forbidden(_l("Only cashiers can refund."), code=ErrorCode.ROLE_REQUIRED)
        order = _get_order(order_id)
        if order is None or order.hospital_id != actor.hospital_id:
            raise NotFound(_l("No order with this number."), code=ErrorCode.ORDER_NOT_FOUND)
        if not reason.strip():
            raise InvalidInput(_l("Give a reason for the refund."), code=ErrorCode.REASON_REQUIRED)
        if idempotency_key:
            earlier = db.session.scalars(
                sa.select(Refund).where(
                    Refund.requested_by_account_id == actor.id,
                    Refund.idempotency_key.in_([f"{idempotency_key}#{s}" for s in REFUND_SOURCES]),
                )
            ).all()
            if earlier:
                if any(r.order_id != order_id for r in earlier):
                    raise Conflict(
                        _l(
                            "This Idempotency-Key was already used for another refund. Use a new key."
                        ),
                        code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    )
                return list(earlier)
    if amount_fen is not None and amount_fen <= 0:
        raise InvalidInput(
            _l("A refund must be more than zero."), code=ErrorCode.AMOUNT_NOT_POSITIVE
        )
    order = _locked_order(order_id)
    refunds = _refund(
        order,
        amount_fen,
        actor=actor,
        kind=kind,
        reason=reason.strip(),
        now=now,
        idempotency_key=idempotency_key,
    )
    if actor is not None:
        record(
            action="billing.refund",
            actor=actor,
            object_type="billing_order",
            object_id=str(order.id),
            patient_id=order.patient_id,
            detail={"amount_fen": sum(r.amount_fen for r in refunds), "reason": reason[:200]},
        )
    return refunds


def _refund(
    order: Order,
    amount_fen: int | None,
    *,
    actor: Account | None,
    kind: RefundKind,
    reason: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> list[Refund]:
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        raise Conflict(_l("Only a paid order can be refunded."), code=ErrorCode.ORDER_NOT_PAID)
    remaining = {
        PaymentSource.SELF_PAY.value: order.paid_self_fen - order.refunded_self_fen,
        PaymentSource.INSURANCE.value: order.paid_insurance_fen - order.refunded_insurance_fen,
    }
    left = sum(remaining.values())
    amount = left if amount_fen is None else amount_fen
    if amount <= 0:
        raise Conflict(
            _l("Everything paid for this order is already refunded."),
            code=ErrorCode.NOTHING_TO_REFUND,
        )
    if amount > left:
        raise Conflict(
            _l("At most {amount} can still be refunded for this order.").format(
                amount=format_fen(left)
            ),
            code=ErrorCode.REFUND_EXCEEDS_PAID,
        )
    parts = split_refund(amount, remaining)
    self_part = parts.get(PaymentSource.SELF_PAY.value, 0)
    insured_part = parts.get(PaymentSource.INSURANCE.value, 0)
    # Conditional on the totals still fitting: a concurrent refund that got there first
    # makes this one fail instead of refunding more than was paid.
    reserved = execute_dml(
        sa.update(Order)
        .where(
            Order.id == order.id,
            Order.refunded_self_fen + self_part <= Order.paid_self_fen,
            Order.refunded_insurance_fen + insured_part <= Order.paid_insurance_fen,
        )
        .values(
            refunded_self_fen=Order.refunded_self_fen + self_part,
            refunded_insurance_fen=Order.refunded_insurance_fen + insured_part,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not reserved:
        raise Conflict(
            _l("Another refund changed this order just now. Reload and try again."),
            code=ErrorCode.REFUND_CONFLICT,
        )
    db.session.refresh(order)
    order.status = (
        OrderStatus.REFUNDED
        if order.refunded_fen >= order.paid_fen
        else OrderStatus.PARTIALLY_REFUNDED
    )
    refunds = []
    for source, part in (
        (PaymentSource.SELF_PAY, self_part),
        (PaymentSource.INSURANCE, insured_part),
    ):
        if part <= 0:
            continue
        if source is PaymentSource.SELF_PAY and order.account_fen > 0:
            # Insurance accounts paid part of it: they get their share back at once.
            part, credited = accounts.refund_self_part(
                order,
                part,
                actor=actor,
                now=now,
                kind=kind,
                reason=reason or str(_REFUND_REASONS.get(kind, "")),
                idempotency_key=idempotency_key,
            )
            refunds.extend(credited)
            if part <= 0:
                continue
        payment = db.session.scalar(
            sa.select(Payment).where(
                Payment.order_id == order.id,
                Payment.source == source,
                Payment.settles_order.is_(True),
            )
        )
        if payment is None:
            raise RuntimeError(f"order {order.id} is paid but has no settling {source} payment")
        refund = _refund_payment(
            order,
            payment,
            part,
            kind=kind,
            reason=reason,
            actor=actor,
            now=now,
            idempotency_key=f"{idempotency_key}#{source.value}" if idempotency_key else None,
        )
        if refund is None:
            raise Conflict(
                _l("Another refund changed this order just now. Reload and try again."),
                code=ErrorCode.REFUND_CONFLICT,
            )
        refunds.append(refund)
    db.session.flush()
    return refunds


def _refund_payment(
    order: Order,
    payment: Payment,
    amount: int,
    *,
    kind: RefundKind,
    reason: str,
    actor: Account | None,
    now: datetime,
    idempotency_key: str | None = None,
) -> Refund | None:
    taken = execute_dml(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.refunded_fen + amount <= Payment.amount_fen)
        .values(refunded_fen=Payment.refunded_fen + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if not taken:
        return None
    refund = Refund(
        hospital_id=order.hospital_id,
        order_id=order.id,
        payment_id=payment.id,
        refund_no="RF" + secrets.token_hex(12),
        amount_fen=amount,
        kind=kind,
        reason=reason or str(_REFUND_REASONS.get(kind, "")),
        status=RefundStatus.PENDING,
        requested_by_account_id=actor.id if actor is not None else None,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    _ledger(
        order,
        LedgerKind.REFUND_REQUESTED,
        now=now,
        amount_fen=amount,
        payment=payment,
        refund=refund,
        actor=actor,
        detail={"kind": kind.value},
    )
    submit_refund(refund, now=now)
    return refund


def _refund_backend(payment: Payment) -> Any:
    if payment.source == PaymentSource.INSURANCE:
        return insurance_adapter(current_app.config)
    return payment_provider(payment.provider, current_app.config)


def submit_refund(refund: Refund, *, now: datetime) -> None:
    """Ask the payment's source to return the money; a failure is retried by a job."""
    if refund.status != RefundStatus.PENDING:
        return
    payment = refund.payment
    if payment is None:  # an insurance account's share: credited when it was made
        return
    refund.attempts += 1
    try:
        backend = _refund_backend(payment)
        refund.provider_refund_id = backend.refund(
            out_trade_no=payment.out_trade_no,
            provider_txn_id=payment.provider_txn_id or "",
            refund_no=refund.refund_no,
            amount_fen=refund.amount_fen,
            now=now,
        )
    except (UnknownProvider, ProviderUnavailable) as exc:
        refund.last_error = str(exc)[:300]
        if refund.attempts >= REFUND_SUBMIT_ATTEMPTS:
            refund.status = RefundStatus.FAILED
            log.error("refund %s failed for good: %s; a cashier must act", refund.id, exc)
            _refund_ledger(refund, payment, LedgerKind.REFUND_FAILED, "refund-failed", now=now)
        db.session.flush()
        return
    refund.status = RefundStatus.SUCCEEDED
    refund.completed_at = now
    db.session.flush()
    if payment.settles_order:
        # A stray (duplicate or late) payment was never counted as received: its refund is not
        # reported either.
        refunded = db.session.get_one(Order, refund.order_id)
        refund_issued.send(
            "billing",
            order_id=refund.order_id,
            hospital_id=refund.hospital_id,
            amount_fen=refund.amount_fen,
            reference=refunded.reference or "",
            fully_refunded=refunded.status is OrderStatus.REFUNDED,
            now=now,
        )
    _refund_ledger(refund, payment, LedgerKind.REFUND_SUCCEEDED, "refund-succeeded", now=now)


def _refund_ledger(
    refund: Refund, payment: Payment, kind: LedgerKind, key: str, *, now: datetime
) -> None:
    """The ledger line of a provider refund's outcome, once per refund (dedupe key)."""
    _ledger(
        db.session.get_one(Order, refund.order_id),
        kind,
        now=now,
        amount_fen=refund.amount_fen,
        payment=payment,
        refund=refund,
        dedupe_key=f"{key}:{refund.id}",
    )


def retry_pending_refunds(*, now: datetime) -> int:
    """Submit refunds a provider could not take earlier; return how many went through."""
    pending = db.session.scalars(
        sa.select(Refund)
        .where(Refund.status == RefundStatus.PENDING)
        .order_by(Refund.id)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for refund in pending:
        submit_refund(refund, now=now)
    return sum(1 for r in pending if r.status == RefundStatus.SUCCEEDED)


def _tell_patient(
    order: Order, template: str, amount_fen: int, reason: str, *, now: datetime
) -> None:
    from hospital.notifications.service import notify_patient

    patient = db.session.get(Patient, order.patient_id)
    hospital = db.session.get(Hospital, order.hospital_id)
    if patient is None or hospital is None:
        return
    notify_patient(
        patient,
        template,
        {
            "hospital": hospital.name_zh,
            "amount": format_fen(amount_fen),
            "order": order.receipt_no or str(order.id),
            "reason": reason,
        },
        now=now,
        dedupe_key=f"billing:{template}:{order.id}:{amount_fen}:{order.refunded_fen}",
        family_permission=Permission.PAY,
    )
