"""The ledger is append-only and the database itself refuses impossible money states."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hospital.billing.models import LedgerEntry, LedgerKind, Order, Payment
from hospital.db import db, utcnow
from tests.support.billing_factories import paid_visit_order


def test_every_state_change_is_in_the_ledger(hospital: Any) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    kinds = db.session.scalars(
        sa.select(LedgerEntry.kind).where(LedgerEntry.order_id == order.id).order_by(LedgerEntry.id)
    ).all()
    assert kinds == [
        LedgerKind.ORDER_CREATED,
        LedgerKind.PAYMENT_STARTED,
        LedgerKind.PAYMENT_SUCCEEDED,
        LedgerKind.ORDER_PAID,
    ]


def test_ledger_entries_cannot_be_changed_or_deleted(hospital: Any) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.order_id == order.id))
    with pytest.raises(RuntimeError, match="append-only"), db.session.begin_nested():
        entry.amount_fen = 1
        db.session.flush()
    entry = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.order_id == order.id))
    with pytest.raises(RuntimeError, match="append-only"), db.session.begin_nested():
        db.session.delete(entry)
        db.session.flush()
    assert db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.id == entry.id)) is not None


def test_the_database_refuses_refunds_beyond_what_was_paid(hospital: Any) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(Order)
            .where(Order.id == order.id)
            .values(refunded_self_fen=order.paid_self_fen + 1)
        )
    payment = db.session.scalar(sa.select(Payment).where(Payment.order_id == order.id))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(Payment)
            .where(Payment.id == payment.id)
            .values(refunded_fen=payment.amount_fen + 1)
        )


def test_the_database_refuses_a_second_settling_payment_and_a_reused_transaction_id(
    hospital: Any,
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    first = db.session.scalar(sa.select(Payment).where(Payment.order_id == order.id))
    values = {
        "hospital_id": order.hospital_id,
        "order_id": order.id,
        "provider": "sandbox",
        "amount_fen": 5000,
        "status": "succeeded",
        "created_at": utcnow(),
    }
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(
            Payment(**values, out_trade_no="HQx1", provider_txn_id="other", settles_order=True)
        )
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(
            Payment(**values, out_trade_no="HQx2", provider_txn_id=first.provider_txn_id)
        )


def test_unknown_states_are_refused_by_the_database(hospital: Any) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.text("UPDATE billing_order SET status = 'free' WHERE id = :id"), {"id": order.id}
        )
