"""The append-only ledger, and the order look-ups every billing operation shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.billing.models import LedgerEntry, LedgerKind, Order, Payment, Refund
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.access import Permission, can_act_for
from hospital.patients.models import Patient
from hospital.web.id_fields import MAX_ID

CASHIER_ROLES = (Role.CASHIER, Role.ADMIN)


def _config(key: str, default: Any) -> Any:
    return current_app.config.get(f"BILLING_{key}", default)


def _ledger(
    order: Order,
    kind: LedgerKind,
    *,
    now: datetime,
    amount_fen: int = 0,
    payment: Payment | None = None,
    refund: Refund | None = None,
    actor: Account | None = None,
    dedupe_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> LedgerEntry | None:
    """Append a ledger entry; with a dedupe_key, at most one such entry ever exists."""
    entry = LedgerEntry(
        hospital_id=order.hospital_id,
        at=now,
        kind=kind,
        order_id=order.id,
        payment_id=payment.id if payment is not None else None,
        refund_id=refund.id if refund is not None else None,
        amount_fen=amount_fen,
        actor_account_id=actor.id if actor is not None else None,
        dedupe_key=dedupe_key,
        detail=detail or {},
    )
    if dedupe_key is None:
        db.session.add(entry)
        db.session.flush()
        return entry
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        return None
    return entry


def _get_order(order_id: int) -> Order | None:
    """The order with this id; None for ids no row can have (the database would refuse them)."""
    if not isinstance(order_id, int) or not 0 < order_id <= MAX_ID:
        return None
    return db.session.get(Order, order_id)


def _order_for(order_id: int, permission: Permission, *, actor: Account) -> Order:
    """The order, if actor may act for its patient with permission; else NotFound (no leak)."""
    order = _get_order(order_id)
    if order is not None and order.hospital_id == actor.hospital_id:
        patient = db.session.get(Patient, order.patient_id)
        if patient is not None and can_act_for(actor, patient, permission):
            return order
    record(
        action="billing.order",
        outcome="denied",
        actor=actor,
        object_type="billing_order",
        object_id=str(order_id),
        detail={"permission": permission.value},
    )
    raise NotFound(
        _l("No order with this number is linked to your account."), code=ErrorCode.ORDER_NOT_FOUND
    )


def _locked_order(order_id: int) -> Order:
    """Re-read the order under a row lock (PostgreSQL; SQLite write transactions are serial)."""
    return db.session.execute(
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
