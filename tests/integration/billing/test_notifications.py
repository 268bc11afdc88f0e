"""Provider notifications: repeated, shuffled, concurrent or forged, money moves at most once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.billing.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from hospital.billing.services import settlement
from hospital.db import db, utcnow
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.billing_factories import (
    deliver_all_at_once,
    new_patient_order,
    sandbox,
    sandbox_notification,
    succeeded_sandbox_payment,
)


def _paying(hospital: Any, n: int = 1) -> list[Payment]:
    """Payments of n new patients' orders, completed at the sandbox and not yet notified."""
    now = utcnow()
    return [
        succeeded_sandbox_payment(*new_patient_order(hospital, now=now), now=now) for _ in range(n)
    ]


def _succeeded_entries(order_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        sa.select(LedgerEntry.payment_id, sa.func.count())
        .where(
            LedgerEntry.order_id.in_(order_ids), LedgerEntry.kind == LedgerKind.PAYMENT_SUCCEEDED
        )
        .group_by(LedgerEntry.payment_id)
    ).all()
    return dict(rows)


def test_every_notification_one_to_five_times_shuffled_pays_each_order_once(hospital: Any) -> None:
    rng = random.Random(20261128)
    payments = _paying(hospital, n=6)
    now = utcnow()
    deliveries = []
    for payment in payments:
        deliveries += [sandbox_notification(payment, now=now) for _ in range(rng.randint(1, 5))]
    rng.shuffle(deliveries)
    for body, headers in deliveries:
        result = settlement.handle_notification("sandbox", headers, body, now=now)
        assert result.accepted
    db.session.expire_all()
    order_ids = [p.order_id for p in payments]
    for order_id in order_ids:
        order = db.session.get(Order, order_id)
        assert order.status == OrderStatus.PAID
        assert order.paid_self_fen == order.self_pay_fen
    assert _succeeded_entries(order_ids) == {p.id: 1 for p in payments}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_a_late_failure_after_success_changes_nothing(hospital: Any) -> None:
    (payment,) = _paying(hospital)
    now = utcnow()
    ok_body, ok_headers = sandbox_notification(payment, now=now)
    bad_body, bad_headers = sandbox_notification(payment, now=now, status="failed")
    settlement.handle_notification("sandbox", ok_headers, ok_body, now=now)
    settlement.handle_notification("sandbox", bad_headers, bad_body, now=now)
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PAID


def test_concurrent_duplicate_notifications_pay_once(
    app: Flask, committed: None, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        payments = []
        now = utcnow()
        for _ in range(4):
            order, account = new_patient_order(hospital, now=now)
            payments.append(succeeded_sandbox_payment(order, account, now=now))
        deliveries = []
        rng = random.Random(7)
        for payment in payments:
            deliveries += [sandbox_notification(payment, now=now) for _ in range(rng.randint(2, 5))]
        rng.shuffle(deliveries)
        ids = [(p.id, p.order_id) for p in payments]
    errors = deliver_all_at_once(app, deliveries)
    assert errors == []
    with app.app_context():
        order_ids = [o for _p, o in ids]
        for order_id in order_ids:
            assert db.session.get(Order, order_id).status == OrderStatus.PAID
        assert _succeeded_entries(order_ids) == {p: 1 for p, _o in ids}
        paid = db.session.scalars(
            sa.select(LedgerEntry).where(
                LedgerEntry.order_id.in_(order_ids), LedgerEntry.kind == LedgerKind.ORDER_PAID
            )
        ).all()
        assert len(paid) == len(order_ids)
        db.session.remove()


def _forgeries(payment: Payment, now: Any) -> dict[str, tuple[bytes, dict[str, str]]]:
    body, headers = sandbox_notification(payment, now=now)
    forged_sig = dict(headers, **{"Sandbox-Signature": headers["Sandbox-Signature"][:-4] + "0000"})
    changed = bytearray(body)
    changed[body.index(b'"amount_fen":') + len(b'"amount_fen":')] = ord("1")
    missing = {k: v for k, v in headers.items() if k != "Sandbox-Signature"}
    old_body, old_headers = sandbox_notification(payment, now=now - timedelta(seconds=301))
    future_body, future_headers = sandbox_notification(payment, now=now + timedelta(seconds=90))
    wrong_body, wrong_headers = sandbox_notification(payment, now=now, secret="not-our-secret")
    return {
        "forged signature": (body, forged_sig),
        "one byte changed": (bytes(changed), headers),
        "missing header": (body, missing),
        "301 s old": (old_body, old_headers),
        "90 s in the future": (future_body, future_headers),
        "wrong secret": (wrong_body, wrong_headers),
    }


def test_forged_or_stale_notifications_are_refused_and_change_nothing(
    client: Any, hospital: Any
) -> None:
    (payment,) = _paying(hospital)
    db.session.commit()  # a refused request rolls back its own work only
    now = utcnow()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    for label, (body, headers) in _forgeries(payment, now).items():
        response = client.post("/billing/notify/sandbox", data=body, headers=headers)
        assert response.status_code == 400, label
        assert response.get_data(as_text=True) != "ok", label
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PENDING
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PENDING
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == before
    # The genuine one still works afterwards.
    body, headers = sandbox_notification(payment, now=utcnow())
    response = client.post("/billing/notify/sandbox", data=body, headers=headers)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PAID


def test_a_signed_notification_with_another_amount_is_ignored_and_logged(hospital: Any) -> None:
    from hospital.billing.models import NotificationOutcome, ProviderNotification

    (payment,) = _paying(hospital)
    body, headers = sandbox_notification(payment, now=utcnow(), amount_fen=1)
    result = settlement.handle_notification("sandbox", headers, body, now=utcnow())
    assert not result.accepted
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PENDING
    logged = db.session.scalars(
        sa.select(ProviderNotification).where(
            ProviderNotification.out_trade_no == payment.out_trade_no
        )
    ).all()
    assert [(n.outcome, n.reason) for n in logged] == [
        (NotificationOutcome.IGNORED, "amount does not match")
    ]


def test_reconciliation_settles_a_payment_whose_notifications_were_lost(hospital: Any) -> None:
    (payment,) = _paying(hospital)
    later = utcnow() + timedelta(minutes=10)
    assert settlement.reconcile_pending_payments(now=later) == 1
    assert settlement.reconcile_pending_payments(now=later) == 0
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PAID
    assert _succeeded_entries([payment.order_id]) == {payment.id: 1}


def test_reconciliation_leaves_fresh_payments_to_their_notifications(hospital: Any) -> None:
    (payment,) = _paying(hospital)
    assert settlement.reconcile_pending_payments(now=utcnow() + timedelta(minutes=1)) == 0
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PENDING


def test_sandbox_chaos_delivers_late_and_twice_but_pays_once(
    app: Flask, client: Any, hospital: Any
) -> None:
    from hospital.billing import jobs
    from tests.support.billing_factories import client_transport

    app.config["BILLING_SANDBOX_DUPLICATE_RATE"] = 1.0
    app.config["BILLING_SANDBOX_MAX_DELAY_S"] = 0
    (payment,) = _paying(hospital)
    from hospital.billing.models import SandboxDelivery

    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SandboxDelivery)
            .where(SandboxDelivery.out_trade_no == payment.out_trade_no)
        )
        == 2
    )
    assert jobs.deliver_sandbox_notifications(now=utcnow(), transport=client_transport(client)) == 2
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PAID
    assert _succeeded_entries([payment.order_id]) == {payment.id: 1}


def test_the_sandbox_retries_a_delivery_that_failed(hospital: Any) -> None:
    from hospital.billing.models import SandboxDelivery

    (payment,) = _paying(hospital)
    now = utcnow()

    def down(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        raise ConnectionError("endpoint down")

    assert sandbox().deliver_due(down, now=now) == 0
    delivery = db.session.scalar(
        sa.select(SandboxDelivery).where(SandboxDelivery.out_trade_no == payment.out_trade_no)
    )
    assert delivery.attempts == 1 and delivery.delivered_at is None
    assert delivery.due_at > now
    calls: list[str] = []
    retry_at = delivery.due_at

    def up(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        calls.append(url)
        result = settlement.handle_notification("sandbox", headers, body, now=retry_at)
        return 200, "ok" if result.accepted else "no"

    assert sandbox().deliver_due(up, now=now) == 0  # not due yet
    assert sandbox().deliver_due(up, now=retry_at) == 1
    assert calls == [delivery.notify_url]
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PAID


def test_the_sandbox_posts_without_holding_the_write_lock(app: Flask, committed: Any) -> None:
    """Our own notify endpoint answers in another connection: it must be able to write meanwhile."""
    from hospital.billing import jobs

    with app.app_context():
        now = utcnow()
        hospital = factories.create_hospital()
        order, account = new_patient_order(hospital, now=now)
        succeeded_sandbox_payment(order, account, now=now)
        db.session.commit()
        hospital_id = hospital.id
        writes: list[str] = []

        def transport(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
            # Its own unpooled engine: the busy_timeout below must not leak into the pool.
            engine = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
            with engine.connect() as other:
                if other.dialect.name == "sqlite":
                    other.exec_driver_sql("PRAGMA busy_timeout=0")  # fail at once if locked
                    other.commit()
                with other.begin():
                    other.execute(
                        sa.text("UPDATE hospital SET phone = phone WHERE id = :id"),
                        {"id": hospital_id},
                    )
            engine.dispose()
            writes.append(url)
            return 503, "try later"

        with unit_of_work():
            jobs.deliver_sandbox_notifications(
                now=utcnow() + timedelta(minutes=1), transport=transport
            )
        from hospital.billing.models import SandboxDelivery

        errors = db.session.scalars(sa.select(SandboxDelivery.last_error)).all()
        assert writes, f"the sandbox posted nothing: {errors}"
        db.session.remove()
