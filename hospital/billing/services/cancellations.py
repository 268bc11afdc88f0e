"""Void or refund the order of a cancelled appointment or walk-in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hospital.billing.models import LedgerKind, Order, OrderStatus, Refund, RefundKind
from hospital.billing.pricing import policy_refund_fen
from hospital.billing.references import OrderRef
from hospital.billing.services.accounts import release_charges
from hospital.billing.services.ledger import _config, _ledger, _locked_order
from hospital.billing.services.queries import order_for
from hospital.billing.services.refunds import _REFUND_REASONS, _refund, _tell_patient
from hospital.db import db


def cancel_registration_order(
    *, hospital_id: int, appointment_id: int, reason: str, refund: str, now: datetime
) -> Order | None:
    """Void an unpaid registration order, or refund a paid one as the cancellation says."""
    return _cancel_order(
        hospital_id, OrderRef.appointment(appointment_id), reason=reason, refund=refund, now=now
    )


def cancel_walk_in_order(
    *, hospital_id: int, walk_in_id: int, reason: str, now: datetime
) -> Order | None:
    """Void a walk-in's unpaid order (reason "expired" or "cancelled"); a paid one is kept."""
    return _cancel_order(
        hospital_id, OrderRef.walk_in(walk_in_id), reason=reason, refund="none", now=now
    )


def cancel_consultation_order(
    *, hospital_id: int, consultation_id: int, reason: str, now: datetime
) -> Order | None:
    """Void a consultation's unpaid fee ("expired"), or refund a paid one in full (any other reason).

    A second call refunds nothing more: the consultation sweep may run as often as it likes.
    """
    return _cancel_order(
        hospital_id,
        OrderRef.consultation(consultation_id),
        reason="expired" if reason == "expired" else "hospital_cancelled",
        refund="full",
        now=now,
    )


def _cancel_order(
    hospital_id: int, reference: OrderRef, *, reason: str, refund: str, now: datetime
) -> Order | None:
    order = order_for(hospital_id, reference)
    if order is None:
        return None
    order = _locked_order(order.id)
    if order.status == OrderStatus.PENDING:
        order.status = OrderStatus.EXPIRED if reason == "expired" else OrderStatus.CANCELLED
        db.session.flush()
        if order.account_fen > 0:
            release_charges(order, now=now)
        kind = LedgerKind.ORDER_EXPIRED if reason == "expired" else LedgerKind.ORDER_CANCELLED
        _ledger(order, kind, now=now, detail={"reason": reason})
        return order
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) or refund == "none":
        return order
    already = db.session.scalar(
        sa.select(Refund.id).where(
            Refund.order_id == order.id,
            Refund.kind.in_([RefundKind.POLICY, RefundKind.HOSPITAL_CANCELLED]),
        )
    )
    if already is not None:
        return order
    hospital_cancelled = reason == "hospital_cancelled"
    if hospital_cancelled or refund == "full":
        amount = order.refundable_fen
    else:
        percent = int(_config("LATE_CANCEL_REFUND_PERCENT", 50))
        amount = min(policy_refund_fen(order.paid_fen, percent), order.refundable_fen)
    if amount <= 0:
        return order
    refund_kind = RefundKind.HOSPITAL_CANCELLED if hospital_cancelled else RefundKind.POLICY
    _refund(order, amount, actor=None, kind=refund_kind, reason="", now=now)
    _tell_patient(order, "billing.refunded", amount, str(_REFUND_REASONS[refund_kind]), now=now)
    return order
