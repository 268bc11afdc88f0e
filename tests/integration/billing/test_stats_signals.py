"""Billing reports each payment and refund to the operations statistics exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from blinker import Signal

from hospital.accounts.models import Role
from hospital.billing.models import Order, OrderStatus, RefundKind, RefundStatus
from hospital.billing.providers.base import ProviderUnavailable
from hospital.billing.providers.sandbox import SandboxProvider
from hospital.billing.services import payments, refunds
from hospital.db import db, utcnow
from hospital.events import order_paid, payment_received, refund_issued
from reports.models import PaymentSummary
from tests.support.billing_factories import (
    deliver_sandbox_notification,
    hold_a_paid_place,
    insured_medicine_order,
    new_patient_order,
    paid_visit_order,
    sandbox,
    start_sandbox_payment,
    succeeded_sandbox_payment,
)
from tests.support.scheduling_factories import NOW


@contextmanager
def recording(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    """Collect every send of signal while the block runs; disconnect afterwards."""
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        seen.append({"sender": sender, **kw})

    with signal.connected_to(receiver):
        yield seen


def notify(payment: Any, *, now: Any) -> None:
    assert deliver_sandbox_notification(payment, now=now).accepted


def test_a_settled_order_reports_one_online_payment_even_when_notified_twice(hospital: Any) -> None:
    order, account = new_patient_order(hospital, now=utcnow())
    now = utcnow()
    payment = succeeded_sandbox_payment(order, account, now=now)
    with recording(payment_received) as seen:
        notify(payment, now=now)
        notify(payment, now=now + timedelta(seconds=30))  # the provider retries
    assert seen == [
        {
            "sender": "billing",
            "order_id": order.id,
            "hospital_id": hospital.id,
            "amount_fen": 5000,
            "patient_id": order.patient_id,
            "online": True,
            "reference": order.reference or "",
            "now": now,
        }
    ]


@pytest.mark.usefixtures("medicine_fully_insured")
def test_a_fully_insured_order_reports_the_insured_amount(hospital: Any) -> None:
    order, account = insured_medicine_order(hospital, now=utcnow())
    with recording(payment_received) as seen:
        payments.start_payment(order.id, actor=account, provider_name="sandbox", now=utcnow())
    assert [(s["order_id"], s["amount_fen"], s["online"]) for s in seen] == [(order.id, 3000, True)]


def test_a_second_payment_for_a_paid_order_reports_neither_a_payment_nor_a_refund(
    hospital: Any,
) -> None:
    order, account = new_patient_order(hospital, now=utcnow())
    first = start_sandbox_payment(order, account, now=utcnow())
    second = start_sandbox_payment(order, account, now=utcnow())
    for payment in (first, second):
        sandbox().decide(payment.out_trade_no, "success", now=utcnow())
    with recording(payment_received) as paid, recording(refund_issued) as refunded:
        notify(first, now=utcnow())
        notify(second, now=utcnow())  # a stray: refunded in full, never counted as revenue
    assert [p["order_id"] for p in paid] == [order.id]
    assert refunded == []


def test_a_cashier_refund_is_reported_once_in_fen(hospital: Any, create_account: Any) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    now = utcnow()
    with recording(refund_issued) as seen:
        refunds.refund_order(
            order.id,
            actor=cashier,
            amount_fen=1500,
            kind=RefundKind.CASHIER,
            reason="检查取消",
            now=now,
        )
    assert seen == [
        {
            "sender": "billing",
            "order_id": order.id,
            "hospital_id": hospital.id,
            "amount_fen": 1500,
            "reference": order.reference or "",
            "fully_refunded": False,
            "now": now,
        }
    ]


def test_a_refund_the_provider_could_not_take_is_reported_when_it_goes_through(
    hospital: Any, create_account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    real_refund = SandboxProvider.refund

    def unavailable(self: Any, **kw: Any) -> str:
        raise ProviderUnavailable("down for maintenance")

    with recording(refund_issued) as seen:
        monkeypatch.setattr(SandboxProvider, "refund", unavailable)
        (refund,) = refunds.refund_order(
            order.id,
            actor=cashier,
            amount_fen=None,
            kind=RefundKind.CASHIER,
            reason="x",
            now=utcnow(),
        )
        assert refund.status == RefundStatus.PENDING and seen == []
        monkeypatch.setattr(SandboxProvider, "refund", real_refund)
        later = utcnow() + timedelta(minutes=5)
        assert refunds.retry_pending_refunds(now=later) == 1
        refunds.retry_pending_refunds(now=later + timedelta(minutes=5))
    assert [(s["order_id"], s["amount_fen"], s["now"]) for s in seen] == [(order.id, 5000, later)]


def test_a_refused_paid_order_is_counted_then_refunded_in_full(hospital: Any) -> None:
    order, account = new_patient_order(hospital, now=utcnow())
    payment = succeeded_sandbox_payment(order, account, now=utcnow())
    events: list[tuple[str, int]] = []

    def refuse(_sender: Any, **kw: Any) -> bool:
        return False

    def paid(_sender: Any, **kw: Any) -> None:
        events.append(("paid", kw["amount_fen"]))

    def refunded(_sender: Any, **kw: Any) -> None:
        events.append(("refunded", kw["amount_fen"]))

    with (
        order_paid.connected_to(refuse),
        payment_received.connected_to(paid),
        refund_issued.connected_to(refunded),
    ):
        notify(payment, now=utcnow())
    # Counted first, so the statistics can subtract the refund from it.
    assert events == [("paid", 5000), ("refunded", 5000)]


def test_a_paid_and_partly_refunded_registration_lands_in_the_payment_summary(
    hospital: Any,
    create_account: Any,
    create_department: Any,
    create_clinician: Any,
) -> None:
    clinician = create_clinician(create_department(hospital))
    _held, order, account = hold_a_paid_place(hospital, clinician)
    payment = succeeded_sandbox_payment(order, account, now=NOW)
    notify(payment, now=NOW + timedelta(seconds=5))
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    refunds.refund_order(
        order.id, actor=cashier, amount_fen=500, kind=RefundKind.CASHIER, reason="x", now=NOW
    )
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PARTIALLY_REFUNDED
    rows = db.session.scalars(
        sa.select(PaymentSummary).where(PaymentSummary.hospital_id == hospital.id)
    ).all()
    assert [(r.order_id, r.amount_fen, r.refunded_fen, r.online) for r in rows] == [
        (order.id, 1500, 500, True)
    ]
