"""A payment that arrives after its hold lapsed is refunded in full, the patient is told,
and the slot is never overbooked (billing and scheduling talk only through hospital.events)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hospital.billing.models import (
    Order,
    OrderStatus,
    Payment,
    Refund,
    RefundKind,
    RefundStatus,
)
from hospital.db import db, utcnow
from hospital.events import order_paid
from hospital.notifications.models import OutboxMessage
from scheduling.models import Appointment, AppointmentState, Slot
from scheduling.services import booking, places
from tests.support.billing_factories import (
    deliver_sandbox_notification,
    hold_a_paid_place,
    new_patient_order,
    sandbox,
    start_sandbox_payment,
    succeeded_sandbox_payment,
)
from tests.support.scheduling_factories import NOW


def test_payment_after_the_hold_lapsed_and_the_slot_was_retaken_is_refunded(
    hospital: Any,
    create_account: Any,
    create_patient: Any,
    create_department: Any,
    create_clinician: Any,
) -> None:
    clinician = create_clinician(create_department(hospital))
    held, order, late_payer = hold_a_paid_place(hospital, clinician, phone="13800138002")
    assert order.self_pay_fen == 1500 and order.expires_at == held.hold_expires_at

    payment = start_sandbox_payment(order, late_payer, now=NOW + timedelta(minutes=1))
    sandbox().decide(payment.out_trade_no, "success", now=NOW + timedelta(minutes=2))

    # The notification is delayed; the hold lapses and someone else takes the place.
    lapse = held.hold_expires_at + timedelta(minutes=1)
    assert places.release_expired_holds(now=lapse) == 1
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED
    other = create_account(hospital)
    other_patient = create_patient(hospital, account=other)
    booking.hold(actor=other, patient_id=other_patient.id, slot_id=held.slot_id, now=lapse)

    late = lapse + timedelta(minutes=5)
    assert deliver_sandbox_notification(payment, now=late).accepted
    db.session.expire_all()

    refund = db.session.scalar(sa.select(Refund).where(Refund.payment_id == payment.id))
    assert refund is not None
    assert (refund.kind, refund.amount_fen, refund.status) == (
        RefundKind.LATE_PAYMENT,
        1500,
        RefundStatus.SUCCEEDED,
    )
    assert db.session.get(Payment, payment.id).refunded_fen == 1500
    assert db.session.get(Order, order.id).status == OrderStatus.EXPIRED
    assert db.session.get(Slot, held.slot_id).booked == 1
    assert db.session.get(Appointment, held.id).state != AppointmentState.BOOKED
    told = db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.template == "billing.late_payment_refunded",
            OutboxMessage.recipient == "13800138002",
        )
    ).all()
    assert len(told) == 1 and "¥15.00" in told[0].body

    # The provider repeats itself: nothing more is refunded.
    deliver_sandbox_notification(payment, now=late)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Refund).where(Refund.payment_id == payment.id)
        )
        == 1
    )


def test_paying_the_registration_fee_books_the_appointment(
    hospital: Any,
    create_department: Any,
    create_clinician: Any,
) -> None:
    clinician = create_clinician(create_department(hospital))
    held, order, account = hold_a_paid_place(hospital, clinician)
    payment = succeeded_sandbox_payment(order, account, now=NOW)
    deliver_sandbox_notification(payment, now=NOW + timedelta(seconds=5))
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PAID
    assert db.session.get(Appointment, held.id).state == AppointmentState.BOOKED
    assert db.session.get(Slot, held.slot_id).booked == 1


def test_a_receiver_refusing_the_paid_order_gets_it_refunded_in_full(hospital: Any) -> None:
    order, account = new_patient_order(hospital, now=utcnow(), phone="13800138003")
    payment = succeeded_sandbox_payment(order, account, now=utcnow())

    def refuse(_sender: Any, **kw: Any) -> bool:
        return False

    with order_paid.connected_to(refuse):
        deliver_sandbox_notification(payment, now=utcnow())
    db.session.expire_all()
    refunded = db.session.get(Order, order.id)
    assert refunded.status == OrderStatus.REFUNDED
    assert refunded.refunded_fen == refunded.paid_fen == 5000
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.template == "billing.late_payment_refunded",
                OutboxMessage.recipient == "13800138003",
            )
        )
        == 1
    )


def test_a_second_payment_for_a_paid_order_is_refunded(hospital: Any) -> None:
    order, account = new_patient_order(hospital, now=utcnow())
    first = start_sandbox_payment(order, account, now=utcnow())
    second = start_sandbox_payment(order, account, now=utcnow())
    for payment in (first, second):
        sandbox().decide(payment.out_trade_no, "success", now=utcnow())
    for payment in (second, first):
        deliver_sandbox_notification(payment, now=utcnow())
    db.session.expire_all()
    paid = db.session.get(Order, order.id)
    assert paid.status == OrderStatus.PAID and paid.paid_self_fen == 5000
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    assert [(r.payment_id, r.kind, r.amount_fen) for r in refunds] == [
        (first.id, RefundKind.DUPLICATE_PAYMENT, 5000)
    ]
