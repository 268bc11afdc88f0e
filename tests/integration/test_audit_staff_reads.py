"""Every staff read of a patient's appointments and orders is audited; denials outlive rollbacks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry, Outcome
from hospital.db import db, utcnow
from scheduling.models import Appointment
from scheduling.services import booking, rules
from tests.integration.scheduling.conftest import World, build_world
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import paid_visit_order
from tests.support.scheduling_factories import create_clinic_session, slots_of

JSON = {"X-Requested-With": "fetch"}


def switch_to(client: Any, account: Any) -> None:
    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)


@pytest.fixture
def world(db_session: Any) -> World:
    return build_world()


def booked(world: World, patient_index: int = 0) -> Appointment:
    """A free appointment booked by the patient's own account, two days ahead."""
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    session = create_clinic_session(
        world.clinician, local_date=day, capacity=3, release_at=utcnow() - timedelta(hours=1)
    )
    slot = slots_of(session)[patient_index]
    appointment = booking.hold(
        actor=world.accounts[patient_index],
        patient_id=world.patients[patient_index].id,
        slot_id=slot.id,
        now=utcnow(),
    )
    booking.confirm(appointment.id, actor=world.accounts[patient_index], now=utcnow())
    db.session.commit()
    return appointment


def entries(action: str, **where: Any) -> list[AuditEntry]:
    db.session.expire_all()
    query = sa.select(AuditEntry).where(AuditEntry.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def test_staff_opening_an_appointment_page_and_api_is_audited(client: Any, world: World) -> None:
    appointment = booked(world)
    nurse = factories.create_account(world.hospital, roles=(Role.NURSE,))
    switch_to(client, nurse)
    assert client.get(f"/api/v1/scheduling/appointments/{appointment.id}").status_code == 200
    response = client.get(f"/api/v1/scheduling/appointments/{appointment.id}/calendar.ics")
    assert response.status_code == 200
    assert client.get(f"/appointments/{appointment.id}/confirm").status_code == 200
    reads = entries("appointment.read", patient_id=appointment.patient_id)
    assert len(reads) == 3
    assert {e.actor_account_id for e in reads} == {nurse.id}
    assert {e.object_id for e in reads} == {str(appointment.id)}
    assert all(e.outcome is Outcome.SUCCESS and e.actor_role == "nurse" for e in reads)


def test_the_patient_reading_their_own_appointment_is_not_a_staff_read(
    client: Any, world: World
) -> None:
    appointment = booked(world)
    switch_to(client, world.accounts[0])
    assert client.get(f"/api/v1/scheduling/appointments/{appointment.id}").status_code == 200
    assert client.get(f"/appointments/{appointment.id}/confirm").status_code == 200
    assert entries("appointment.read") == []


def test_the_day_list_page_and_api_audit_one_entry_per_patient_shown(
    client: Any, world: World
) -> None:
    first, second = booked(world, 0), booked(world, 1)
    switch_to(client, world.registrar)
    day = first.local_date.isoformat()
    query = f"clinician_id={world.clinician.id}&date={day}"
    assert client.get(f"/staff/day?{query}").status_code == 200
    assert client.get(f"/api/v1/scheduling/day?{query}").status_code == 200
    reads = entries("appointment.day_list.read")
    assert len(reads) == 4
    assert sorted(e.patient_id for e in reads) == sorted(
        [first.patient_id, first.patient_id, second.patient_id, second.patient_id]
    )
    assert all(e.actor_account_id == world.registrar.id for e in reads)
    assert reads[0].detail == {"clinician_id": world.clinician.id, "date": day}


def test_staff_reading_an_order_its_receipt_and_the_cashier_list_is_audited(
    client: Any, hospital: Any
) -> None:
    order, _payer = paid_visit_order(hospital, now=utcnow())
    db.session.commit()
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    switch_to(client, cashier)
    assert client.get(f"/api/v1/billing/orders/{order.id}").status_code == 200
    assert client.get(f"/billing/orders/{order.id}/result").status_code == 200
    assert client.get(f"/api/v1/billing/orders/{order.id}/receipt").status_code == 200
    assert client.get(f"/billing/orders/{order.id}/receipt.pdf").status_code == 200
    assert client.get("/billing/cashier").status_code == 200
    day = utcnow().astimezone(rules.hospital_zone(hospital.id)).date().isoformat()
    assert client.get(f"/api/v1/billing/cashier/orders?date={day}").status_code == 200
    mine = {"patient_id": order.patient_id, "actor_account_id": cashier.id}
    assert len(entries("order.read", **mine)) == 2
    assert len(entries("order.receipt.read", **mine)) == 2
    assert len(entries("order.cashier_list.read", **mine)) == 2


def test_a_patient_reading_their_own_receipt_is_not_a_staff_read(
    client: Any, hospital: Any
) -> None:
    order, payer = paid_visit_order(hospital, now=utcnow())
    db.session.commit()
    switch_to(client, payer)
    assert client.get(f"/billing/orders/{order.id}/receipt.pdf").status_code == 200
    assert entries("order.receipt.read") == []


def _cancel_denials(actor_id: int) -> list[AuditEntry]:
    return [
        e
        for e in entries("scheduling.book", actor_account_id=actor_id)
        if e.outcome is Outcome.DENIED
    ]


def test_a_refused_cancel_page_is_a_404_and_keeps_its_denial(client: Any, world: World) -> None:
    appointment = booked(world, 0)
    stranger = world.accounts[1]
    switch_to(client, stranger)
    response = client.post(f"/appointments/{appointment.id}/cancel", data={"reason": "x"})
    assert response.status_code == 404
    (denial,) = _cancel_denials(stranger.id)
    assert denial.patient_id == appointment.patient_id
    db.session.refresh(appointment)
    assert appointment.state.value == "booked"


def test_a_refused_cancel_by_the_api_keeps_its_denial(client: Any, world: World) -> None:
    appointment = booked(world, 0)
    stranger = world.accounts[1]
    switch_to(client, stranger)
    response = client.post(
        f"/api/v1/scheduling/appointments/{appointment.id}/cancel",
        json={"reason": "x"},
        headers=JSON,
    )
    assert response.status_code == 404
    assert len(_cancel_denials(stranger.id)) == 1


def test_a_denial_in_a_request_that_commits_is_written_once(client: Any, world: World) -> None:
    """The denial survives the handler's rollback and is not doubled by the final commit."""
    appointment = booked(world, 0)
    stranger = world.accounts[1]
    switch_to(client, stranger)
    client.post(f"/appointments/{appointment.id}/cancel", data={"reason": "x"})
    client.post(f"/appointments/{appointment.id}/cancel", data={"reason": "x"})
    assert len(_cancel_denials(stranger.id)) == 2
