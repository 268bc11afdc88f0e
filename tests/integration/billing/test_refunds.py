"""Refunds: by policy, by the cashier with a reason, back to each source, never beyond what was paid."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Role
from hospital.billing.models import (
    ItemCategory,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Payment,
    PaymentSource,
    Refund,
    RefundKind,
    RefundStatus,
    SandboxTransaction,
)
from hospital.billing.services import orders, payments
from hospital.billing.services import refunds as billing_refunds
from hospital.db import db, utcnow
from hospital.errors import Conflict, Forbidden, InvalidInput
from hospital.events import appointment_cancelled, appointment_held
from hospital.notifications.models import OutboxMessage
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import (
    create_visit_order,
    insured_medicine_order,
    paid_visit_order,
    pay_in_sandbox,
    registration_order,
)


def pay(order: Order, payer: Any) -> Payment:
    payment = pay_in_sandbox(order, payer, now=utcnow())
    db.session.expire_all()
    return payment


def paid_order(hospital: Any) -> tuple[Order, Any]:
    return paid_visit_order(hospital, now=utcnow(), phone="13800138000")


def test_cashier_refunds_part_with_a_reason_over_the_api(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_order(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    response = client.post(
        f"/api/v1/billing/orders/{order.id}/refunds",
        json={"amount_fen": 1500, "reason": "检查项目取消"},
    )
    assert response.status_code == 201, response.get_json()
    (refund,) = response.get_json()
    assert (refund["amount_fen"], refund["status"], refund["source"]) == (
        1500,
        "succeeded",
        "self_pay",
    )
    db.session.expire_all()
    again = db.session.get(Order, order.id)
    assert again.status == OrderStatus.PARTIALLY_REFUNDED
    assert again.refunded_fen == 1500
    txn = db.session.scalar(
        sa.select(SandboxTransaction)
        .where(SandboxTransaction.out_trade_no.like("HQ%"))
        .order_by(SandboxTransaction.id.desc())
    )
    assert txn.refunded_fen == 1500


def test_a_refund_beyond_what_is_left_is_refused(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_order(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    db.session.commit()
    sign_in(client, cashier)
    response = client.post(
        f"/api/v1/billing/orders/{order.id}/refunds", json={"amount_fen": 5001, "reason": "x"}
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "refund_exceeds_paid"
    full = client.post(f"/api/v1/billing/orders/{order.id}/refunds", json={"reason": "全部退款"})
    assert full.status_code == 201
    assert sum(r["amount_fen"] for r in full.get_json()) == 5000
    more = client.post(
        f"/api/v1/billing/orders/{order.id}/refunds", json={"amount_fen": 1, "reason": "x"}
    )
    assert more.status_code == 409
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.REFUNDED


def test_a_patient_cannot_refund(client: Any, hospital: Any) -> None:
    order, owner = paid_order(hospital)
    sign_in(client, owner)
    response = client.post(f"/api/v1/billing/orders/{order.id}/refunds", json={"reason": "mine"})
    assert response.status_code == 403
    with pytest.raises(Forbidden):
        billing_refunds.refund_order(
            order.id, actor=owner, amount_fen=1, kind=RefundKind.CASHIER, reason="x", now=utcnow()
        )


def test_a_refund_needs_a_reason_and_a_positive_amount(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _owner = paid_order(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    db.session.commit()
    sign_in(client, cashier)
    url = f"/api/v1/billing/orders/{order.id}/refunds"
    for body in (
        {},
        {"reason": "  "},
        {"reason": "x", "amount_fen": 0},
        {"reason": "x", "amount_fen": "10"},
        {"reason": "x", "amount_fen": 1.5},
        {"reason": "x", "status": "refunded"},
    ):
        response = client.post(url, json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["message"]
    with pytest.raises(InvalidInput):
        billing_refunds.refund_order(
            order.id, actor=cashier, amount_fen=0, kind=RefundKind.CASHIER, reason="x", now=utcnow()
        )
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_fen == 0


def test_a_retried_refund_with_the_same_idempotency_key_refunds_once(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_order(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    db.session.commit()
    sign_in(client, cashier)
    headers = {"Idempotency-Key": "refund-once-1"}
    first = client.post(
        f"/api/v1/billing/orders/{order.id}/refunds",
        json={"amount_fen": 700, "reason": "x"},
        headers=headers,
    )
    second = client.post(
        f"/api/v1/billing/orders/{order.id}/refunds",
        json={"amount_fen": 700, "reason": "x"},
        headers=headers,
    )
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_fen == 700
    # The service keeps the promise on its own too (e.g. a retried job or CLI call).
    repeat = billing_refunds.refund_order(
        order.id,
        actor=cashier,
        amount_fen=700,
        kind=RefundKind.CASHIER,
        reason="x",
        now=utcnow(),
        idempotency_key="refund-once-1",
    )
    assert [r.id for r in repeat] == [r["id"] for r in first.get_json()]


def test_insurance_split_is_paid_and_refunded_in_proportion(
    hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(
        hospital,
        patient,
        now=utcnow(),
        prices=((11000, ItemCategory.LAB_TEST), (2000, ItemCategory.REGISTRATION)),
    )
    order = orders.apply_insurance(order.id, actor=account, now=utcnow())
    # Deductible 10 yuan from the lab test, then 70 % of the remaining 100 yuan.
    assert (order.total_fen, order.insurance_fen, order.self_pay_fen) == (13000, 7000, 6000)
    payment = pay(order, account)
    assert payment.amount_fen == 6000
    order = db.session.get(Order, order.id)
    assert (order.paid_self_fen, order.paid_insurance_fen, order.status) == (
        6000,
        7000,
        OrderStatus.PAID,
    )
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    refunds = billing_refunds.refund_order(
        order.id,
        actor=cashier,
        amount_fen=1300,
        kind=RefundKind.CASHIER,
        reason="部分退费",
        now=utcnow(),
    )
    by_source = {r.payment.source: r.amount_fen for r in refunds}
    assert by_source == {PaymentSource.SELF_PAY: 600, PaymentSource.INSURANCE: 700}
    assert all(r.status == RefundStatus.SUCCEEDED for r in refunds)


@pytest.mark.usefixtures("medicine_fully_insured")
def test_a_fully_insured_order_is_paid_without_a_provider(hospital: Any) -> None:
    order, account = insured_medicine_order(hospital, now=utcnow())
    started = payments.start_payment(order.id, actor=account, provider_name="sandbox", now=utcnow())
    assert started.payment is None
    assert db.session.get(Order, order.id).status == OrderStatus.PAID


def _registration_order(
    hospital: Any, create_account: Any, create_patient: Any
) -> tuple[Order, Any]:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account, phone="13800138001")
    now = utcnow()
    appointment_held.send(
        "test",
        appointment_id=987654,
        hospital_id=hospital.id,
        patient_id=patient.id,
        account_id=account.id,
        fee_fen=2000,
        fee_class="general",
        expires_at=now.replace(year=now.year + 1),
        now=now,
    )
    order = registration_order(987654)
    assert order is not None and order.total_fen == 2000
    return order, account


@pytest.mark.parametrize(
    "reason, refund, expected",
    [
        ("patient_cancelled", "full", 2000),
        ("patient_cancelled", "policy", 1000),  # BILLING_LATE_CANCEL_REFUND_PERCENT, default 50
        ("patient_cancelled", "none", 0),
        ("hospital_cancelled", "policy", 2000),  # always full when the hospital cancels
    ],
)
def test_cancellation_refunds_by_policy_once(
    hospital: Any, create_account: Any, create_patient: Any, reason: str, refund: str, expected: int
) -> None:
    from hospital.billing.models import OrderItem

    order, account = _registration_order(hospital, create_account, create_patient)
    # Pay through the ledger without scheduling's receiver (no real appointment here).
    item = db.session.scalar(sa.select(OrderItem).where(OrderItem.order_id == order.id))
    assert item.name_zh == "挂号费"
    from hospital.events import order_paid

    with order_paid.muted() if hasattr(order_paid, "muted") else _no_receivers(order_paid):
        pay(order, account)
    for _ in range(2):  # a repeated cancellation signal refunds nothing more
        appointment_cancelled.send(
            "test",
            appointment_id=987654,
            hospital_id=hospital.id,
            patient_id=order.patient_id,
            reason=reason,
            refund=refund,
            now=utcnow(),
        )
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.refunded_fen == expected
    told = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.patient_id == order.patient_id,
            OutboxMessage.template == "billing.refunded",
            OutboxMessage.recipient == "13800138001",
        )
    )
    assert told == (1 if expected else 0)


class _no_receivers:
    """Silence a signal's receivers for the block (blinker without Signal.muted)."""

    def __init__(self, signal: Any) -> None:
        self.signal = signal

    def __enter__(self) -> None:
        self.saved = dict(self.signal.receivers)
        self.signal.receivers.clear()

    def __exit__(self, *exc: Any) -> None:
        self.signal.receivers.update(self.saved)


def test_an_unpaid_order_is_voided_when_its_hold_lapses(
    hospital: Any, create_account: Any, create_patient: Any
) -> None:
    order, account = _registration_order(hospital, create_account, create_patient)
    appointment_cancelled.send(
        "test",
        appointment_id=987654,
        hospital_id=hospital.id,
        patient_id=order.patient_id,
        reason="expired",
        refund="none",
        now=utcnow(),
    )
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED
    with pytest.raises(Conflict):
        payments.start_payment(order.id, actor=account, provider_name="sandbox", now=utcnow())


def test_hundred_concurrent_refunds_never_exceed_what_was_paid(
    app: Flask, committed: None, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        account = factories.create_account(hospital)
        patient = factories.create_patient(hospital, account=account)
        cashiers = [factories.create_account(hospital, roles=(Role.CASHIER,)) for _ in range(4)]
        order = create_visit_order(
            hospital, patient, now=utcnow(), prices=((20000, ItemCategory.LAB_TEST),)
        )
        orders.apply_insurance(order.id, actor=account, now=utcnow())
        pay(order, account)
        order_id = order.id
        cashier_ids = [c.id for c in cashiers]
        paid = db.session.get(Order, order_id).paid_fen
    rng = random.Random(100)
    amounts: list[int | None] = [
        None if rng.random() < 0.2 else rng.randint(1, 3000) for _ in range(100)
    ]
    barrier = threading.Barrier(len(amounts))
    outcomes: list[str] = []

    def refund(amount: int | None, n: int) -> None:
        from hospital.accounts.models import Account

        with app.app_context():
            try:
                barrier.wait(timeout=60)
                with unit_of_work():
                    cashier = db.session.get(Account, cashier_ids[n % len(cashier_ids)])
                    billing_refunds.refund_order(
                        order_id,
                        actor=cashier,
                        amount_fen=amount,
                        kind=RefundKind.CASHIER,
                        reason="并发退款",
                        now=utcnow(),
                    )
                outcomes.append("ok")
            except Conflict:
                outcomes.append("conflict")
            except BaseException as exc:  # reported below
                outcomes.append(f"error: {exc!r}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=refund, args=(a, n)) for n, a in enumerate(amounts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [o for o in outcomes if o.startswith("error")] == []
    assert len(outcomes) == 100 and "ok" in outcomes
    with app.app_context():
        order = db.session.get(Order, order_id)
        refunded = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
                Refund.order_id == order_id
            )
        )
        assert refunded == order.refunded_fen <= paid
        for payment in db.session.scalars(sa.select(Payment).where(Payment.order_id == order_id)):
            by_payment = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0)).where(
                    Refund.payment_id == payment.id
                )
            )
            assert by_payment == payment.refunded_fen <= payment.amount_fen
        ledger = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.order_id == order_id, LedgerEntry.kind == LedgerKind.REFUND_SUCCEEDED
            )
        )
        assert ledger == refunded
        db.session.remove()
