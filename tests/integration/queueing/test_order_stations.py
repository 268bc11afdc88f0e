"""Paid orders move the patient on: one number per order and station, refunds cancel waiting ones."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Role
from hospital.billing.models import ItemCategory, Order, RefundKind
from hospital.billing.services import refunds as billing_refunds
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.organisation.models import ServicePointKind
from hospital.unit_of_work import unit_of_work
from queueing.models import (
    PriorityClass,
    StationTicket,
    Ticket,
    TicketKind,
    TicketStatus,
)
from queueing.services import serving, stations
from tests.support import factories
from tests.support.billing_factories import (
    create_visit_order,
    deliver_all_at_once,
    deliver_sandbox_notification,
    pay_in_sandbox,
    sandbox_notification,
    succeeded_sandbox_payment,
)
from tests.support.queueing_factories import create_counter, open_queue


def _stations(hospital: Any) -> dict[ServicePointKind, Any]:
    return {
        kind: factories.create_service_point(hospital, kind=kind, code=code)
        for kind, code in (
            (ServicePointKind.LAB_DRAW, "LAB"),
            (ServicePointKind.PHARMACY, "PHA"),
            (ServicePointKind.IMAGING, "IMG"),
        )
    }


def _patient(hospital: Any) -> tuple[Any, Any]:
    account = factories.create_account(hospital, phone=factories.unique_phone())
    patient = factories.create_patient(hospital, account=account)
    return patient, account


def _tickets_of(patient: Any) -> list[Ticket]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Ticket).where(Ticket.patient_id == patient.id).order_by(Ticket.id)
        )
    )


def test_paying_a_lab_and_medicine_order_issues_one_number_at_each_station(
    db_session: Any, hospital: Any
) -> None:
    points = _stations(hospital)
    patient, account = _patient(hospital)
    now = utcnow()
    order = create_visit_order(
        hospital,
        patient,
        now=now,
        prices=(
            (3000, ItemCategory.LAB_TEST),
            (5600, ItemCategory.MEDICINE),
            (1000, ItemCategory.CONSULTATION),
        ),
    )
    payment = pay_in_sandbox(order, account, now=now)
    # The provider reports the same payment again, and late: nothing more is issued.
    deliver_sandbox_notification(payment, now=now)
    deliver_sandbox_notification(payment, now=utcnow())
    tickets = _tickets_of(patient)
    assert sorted(t.queue.service_point_id for t in tickets) == sorted(
        [points[ServicePointKind.LAB_DRAW].id, points[ServicePointKind.PHARMACY].id]
    )
    assert all(t.status is TicketStatus.WAITING for t in tickets)
    assert {t.code[0] for t in tickets} <= {"L", "P", "Q"}
    links = db.session.scalars(sa.select(StationTicket).where(StationTicket.order_id == order.id))
    assert sorted(link.station.value for link in links) == ["lab_draw", "pharmacy"]


def test_an_order_needing_no_station_issues_nothing(db_session: Any, hospital: Any) -> None:
    _stations(hospital)
    patient, account = _patient(hospital)
    now = utcnow()
    order = create_visit_order(
        hospital, patient, now=now, prices=((800, ItemCategory.CONSULTATION),)
    )
    pay_in_sandbox(order, account, now=now)
    assert _tickets_of(patient) == []


def test_a_second_order_of_the_visit_shares_the_waiting_lab_number(
    db_session: Any, hospital: Any
) -> None:
    _stations(hospital)
    patient, account = _patient(hospital)
    now = utcnow()
    first = create_visit_order(hospital, patient, now=now, visit_key="appointment:77")
    second = create_visit_order(hospital, patient, now=now, visit_key="appointment:77")
    pay_in_sandbox(first, account, now=now)
    pay_in_sandbox(second, account, now=now)
    tickets = _tickets_of(patient)
    assert len(tickets) == 1
    # A refund of one of the two orders keeps the number: the other still needs it.
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    billing_refunds.refund_order(
        first.id, actor=cashier, amount_fen=None, kind=RefundKind.CASHIER, reason="x", now=now
    )
    assert _tickets_of(patient)[0].status is TicketStatus.WAITING
    billing_refunds.refund_order(
        second.id, actor=cashier, amount_fen=None, kind=RefundKind.CASHIER, reason="x", now=now
    )
    assert _tickets_of(patient)[0].status is TicketStatus.CANCELLED


def test_a_refund_cancels_the_waiting_number_but_not_one_being_served(
    db_session: Any, hospital: Any
) -> None:
    points = _stations(hospital)
    patient, account = _patient(hospital)
    now = utcnow()
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    order = create_visit_order(hospital, patient, now=now)
    pay_in_sandbox(order, account, now=now)
    billing_refunds.refund_order(
        order.id, actor=cashier, amount_fen=1000, kind=RefundKind.CASHIER, reason="x", now=now
    )
    assert _tickets_of(patient)[0].status is TicketStatus.WAITING  # a part refund keeps it
    billing_refunds.refund_order(
        order.id, actor=cashier, amount_fen=None, kind=RefundKind.CASHIER, reason="x", now=now
    )
    assert _tickets_of(patient)[0].status is TicketStatus.CANCELLED

    other, other_account = _patient(hospital)
    served = create_visit_order(hospital, other, now=now)
    pay_in_sandbox(served, other_account, now=now)
    lab_staff = factories.create_account(hospital, roles=(Role.LAB,))
    counter = create_counter(points[ServicePointKind.LAB_DRAW])
    called = serving_call(lab_staff, hospital, counter)
    assert called.patient_id == other.id
    billing_refunds.refund_order(
        served.id, actor=cashier, amount_fen=None, kind=RefundKind.CASHIER, reason="x", now=now
    )
    assert _tickets_of(other)[0].status is TicketStatus.CALLED


def serving_call(actor: Any, hospital: Any, counter: Any) -> Ticket:
    from queueing.services import calling

    result = calling.call_next(
        actor=actor, hospital_id=hospital.id, counter_id=counter.id, now=utcnow()
    )
    assert result.ticket is not None
    return result.ticket


def test_results_return_sends_the_patient_back_to_the_doctor_with_priority(
    db_session: Any, hospital: Any
) -> None:
    points = _stations(hospital)
    room = factories.create_service_point(hospital)
    now = utcnow()
    doctor_queue = open_queue(room, now=now)
    patient, account = _patient(hospital)
    clinician = factories.create_account(hospital, roles=(Role.CLINICIAN,))
    order = create_visit_order(hospital, patient, now=now, staff=clinician)
    stations.request_results_return(
        actor=clinician, order_id=order.id, return_queue_id=doctor_queue.id, now=now
    )
    pay_in_sandbox(order, account, now=now)
    (lab_ticket,) = _tickets_of(patient)
    assert lab_ticket.return_queue_id == doctor_queue.id
    lab_staff = factories.create_account(hospital, roles=(Role.LAB,))
    counter = create_counter(points[ServicePointKind.LAB_DRAW])
    serving_call(lab_staff, hospital, counter)
    serving.start(actor=lab_staff, hospital_id=hospital.id, counter_id=counter.id, now=utcnow())
    serving.complete(actor=lab_staff, hospital_id=hospital.id, counter_id=counter.id, now=utcnow())
    back = [t for t in _tickets_of(patient) if t.queue_id == doctor_queue.id]
    assert len(back) == 1
    assert back[0].priority is PriorityClass.RETURNING
    assert back[0].kind is TicketKind.TRANSFER


def test_creating_an_order_tells_the_patient_and_family_who_may_pay(
    db_session: Any, hospital: Any
) -> None:
    from hospital.patients.models import FamilyLink, Relationship

    patient, _account = _patient(hospital)
    payer = factories.create_account(hospital, phone=factories.unique_phone())
    viewer = factories.create_account(hospital, phone=factories.unique_phone())
    db.session.add_all(
        [
            FamilyLink(
                hospital_id=hospital.id,
                patient_id=patient.id,
                account_id=payer.id,
                relationship=Relationship.CHILD,
                can_book=True,
                can_pay=True,
                can_view_reports=False,
            ),
            FamilyLink(
                hospital_id=hospital.id,
                patient_id=patient.id,
                account_id=viewer.id,
                relationship=Relationship.CHILD,
                can_book=False,
                can_pay=False,
                can_view_reports=True,
            ),
        ]
    )
    db.session.flush()
    order = create_visit_order(hospital, patient, now=utcnow())
    messages = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.template == "billing.order_created")
    ).all()
    recipients = {m.recipient for m in messages}
    assert patient.phone in recipients or _account.phone in recipients
    assert payer.phone in recipients
    assert viewer.phone not in recipients
    assert all(f"/billing/orders/{order.id}/pay" in m.body for m in messages)
    assert any("¥50.00" in m.body for m in messages)


@pytest.mark.parametrize("same_visit", [True, False])
def test_concurrent_payments_and_duplicate_notifications_issue_one_number_each(
    app: Flask, committed: None, backend: str, same_visit: bool
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        _stations(hospital)
        patient, account = _patient(hospital)
        now = utcnow()
        orders = [
            create_visit_order(
                hospital,
                patient,
                now=now,
                visit_key="appointment:5" if same_visit else f"appointment:{n + 5}",
            )
            for n in range(2)
        ]
        deliveries = []
        for order in orders:
            payment = succeeded_sandbox_payment(order, account, now=now)
            deliveries += [sandbox_notification(payment, now=now) for _ in range(3)]
        patient_id = patient.id
        order_ids = [o.id for o in orders]
    errors = deliver_all_at_once(app, deliveries)
    assert errors == []
    with app.app_context():
        tickets = db.session.scalars(sa.select(Ticket).where(Ticket.patient_id == patient_id)).all()
        assert len(tickets) == (1 if same_visit else 2)
        links = db.session.scalars(
            sa.select(StationTicket).where(StationTicket.order_id.in_(order_ids))
        ).all()
        assert len(links) == 2
        assert all(db.session.get(Order, o).status.value == "paid" for o in order_ids)
        db.session.remove()


def test_the_console_order_with_see_again_leads_the_lab_number_back_to_the_room(
    client: Any, db_session: Any, hospital: Any
) -> None:
    from tests.support.auth import sign_in
    from tests.support.billing_factories import create_fee_item
    from tests.support.queueing_factories import walk_in

    _stations(hospital)
    room = factories.create_service_point(hospital)
    now = utcnow()
    room_queue = open_queue(room, now=now)
    counter = create_counter(room)
    patient, account = _patient(hospital)
    walk_in(hospital, room, now=now, patient_id=patient.id)
    clinician = factories.create_account(hospital, roles=(Role.CLINICIAN,), password="pw-1234567")
    serving_call(clinician, hospital, counter)
    serving.start(actor=clinician, hospital_id=hospital.id, counter_id=counter.id, now=now)
    lab = create_fee_item(hospital, price_fen=3000, category=ItemCategory.LAB_TEST)
    db.session.flush()
    sign_in(client, clinician)
    response = client.post(
        f"/queueing/console/{counter.id}/complete-and-order",
        data={"fee_item_id": str(lab.id), "come_back": "yes"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    order = db.session.scalars(sa.select(Order).where(Order.patient_id == patient.id)).one()
    pay_in_sandbox(order, account, now=utcnow())
    lab_ticket = [t for t in _tickets_of(patient) if t.queue_id != room_queue.id]
    assert len(lab_ticket) == 1 and lab_ticket[0].return_queue_id == room_queue.id
